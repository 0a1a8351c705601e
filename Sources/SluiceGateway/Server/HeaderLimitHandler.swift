import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import SluiceCore

/// Answers a request whose head is larger than the limit with 431 and a JSON body, then closes the connection.
/// (The HTTP parser reports such a request as an error; without this the client would get a bare 400.)
final class HeaderLimitHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let limit: Int

    init(limit: Int) { self.limit = limit }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError, parserError == .headerOverflow else {
            context.fireErrorCaught(error)
            return
        }
        let error = GatewayError(
            status: 431, key: "REQUEST_HEADER_FIELDS_TOO_LARGE",
            message: "Request headers exceed the limit of \(limit) bytes."
        )
        let body = ByteBuffer(string: error.jsonBody)
        let head = HTTPResponse(
            status: .init(code: 431),
            headerFields: [.contentType: "application/json", .contentLength: String(body.readableBytes), .connection: "close"]
        )
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            boundContext.value.close(promise: nil)
        }
    }
}
