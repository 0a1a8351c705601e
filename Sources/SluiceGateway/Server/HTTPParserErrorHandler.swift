import NIOCore
import NIOHTTP1
import SluiceCore

/// Answers requests the HTTP parser refuses: 431 with a JSON body when the head is over the limit, 400 for any
/// other malformed request; then closes the connection. It sits right after the HTTP decoder (and the response encoder before it), so it works
/// before the WebSocket upgrade decision too (without it such a connection would wait forever).
final class HTTPParserErrorHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let headerLimit: Int
    private var answered = false

    init(headerLimit: Int) { self.headerLimit = headerLimit }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        guard !answered else { return }
        answered = true
        let failure: GatewayError
        let reason: String
        if parserError == .headerOverflow {
            failure = GatewayError(
                status: 431, key: "REQUEST_HEADER_FIELDS_TOO_LARGE",
                message: "Request headers exceed the limit of \(headerLimit) bytes."
            )
            reason = "Request Header Fields Too Large"
        } else {
            failure = GatewayError(status: 400, key: "GATEWAY_INVALID_REQUEST", message: "Malformed HTTP request.")
            reason = "Bad Request"
        }
        var body = context.channel.allocator.buffer(capacity: 160)
        body.writeString(failure.jsonBody)
        let head = HTTPResponseHead(
            version: .http1_1, status: .custom(code: UInt(failure.status), reasonPhrase: reason),
            headers: [
                "content-type": "application/json", "content-length": String(body.readableBytes), "connection": "close",
            ]
        )
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            boundContext.value.close(promise: nil)
        }
    }
}
