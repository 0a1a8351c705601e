import NIOCore
import NIOHTTP2

/// The last handler of an h2c connection (after NIO's HTTP/2 handler, which passes it the connection's own frames):
/// tells its event loop's connections about the server's SETTINGS (the stream limit), GOAWAY, idleness and failure.
final class H2CConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    private let id: Int
    private weak var owner: H2CLoopConnections?

    init(id: Int, owner: H2CLoopConnections) {
        self.id = id
        self.owner = owner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .settings(.settings(let settings)):
            let limit = settings.last { $0.parameter == .maxConcurrentStreams }?.value
            owner?.settingsReceived(id, maxConcurrentStreams: limit)
        case .goAway:
            owner?.goAwayReceived(id)
        default:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            owner?.idleTimeoutFired(id)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// A stream's error (reported here too, its stream is reset) leaves the connection as it is; any other one
    /// closes it.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOHTTP2Errors.StreamError || error is NIOHTTP2Errors.NoSuchStream
            || error is NIOHTTP2Errors.StreamClosed
        {
            return
        }
        owner?.connectionFailed(id, error: error)
        context.close(promise: nil)
    }
}
