import NIOCore
import NIOHTTP1
import SluiceCore

/// Answers requests the HTTP parser refuses: 431 with a JSON body when the head is over the limit, 400 for any
/// other malformed request; then closes the connection. It sits right after the HTTP decoder (the response encoder comes before it), so
/// it works before the WebSocket upgrade decision too (without it such a connection would wait forever).
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
        let failure =
            parserError == .headerOverflow
            ? GatewayError(
                status: 431, key: "REQUEST_HEADER_FIELDS_TOO_LARGE",
                message: "Request headers exceed the limit of \(headerLimit) bytes."
            )
            : GatewayError(status: 400, key: "GATEWAY_INVALID_REQUEST", message: "Malformed HTTP request.")
        context.writeGatewayError(failure, version: .http1_1, closeAfter: true)
    }
}
