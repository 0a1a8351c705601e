import NIOCore
import NIOHTTP1

/// Upgrades an HTTP/1.1 connection to h2c (RFC 7540 §3.2) for NIO's `NIOHTTPClientUpgradeHandler`: the first
/// request gets `Upgrade: h2c` and `HTTP2-Settings` (the `Connection` header naming both is the handler's), and on
/// `101 Switching Protocols` the connection's event loop connections make it an HTTP/2 one.
/// (swift-nio-http2 has no client-side h2c upgrader.)
struct H2CClientUpgrader: NIOHTTPClientProtocolUpgrader {
    let id: Int
    weak var owner: H2CLoopConnections?
    /// The request that carries the upgrade, as it is sent (without the upgrade headers).
    let head: HTTPRequestHead

    var supportedProtocol: String { "h2c" }
    var requiredUpgradeHeaders: [String] { ["HTTP2-Settings"] }

    func addCustom(upgradeRequestHeaders: inout HTTPHeaders) {
        upgradeRequestHeaders.add(name: "HTTP2-Settings", value: H2CSettings.upgradeHeaderValue)
    }

    func shouldAllowUpgrade(upgradeResponse: HTTPResponseHead) -> Bool { true }

    func upgrade(context: ChannelHandlerContext, upgradeResponse: HTTPResponseHead) -> EventLoopFuture<Void> {
        guard let owner else { return context.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        return owner.upgradeAccepted(id, context: context, head: head)
    }
}

/// Sits after NIO's upgrade handler while the upgrade request waits for its answer: an answer other than `101`
/// (which the upgrade handler keeps to itself) means the backend stays in HTTP/1.1 on this connection.
final class H2CUpgradeOutcomeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias InboundOut = HTTPClientResponsePart

    private let id: Int
    private weak var owner: H2CLoopConnections?

    init(id: Int, owner: H2CLoopConnections) {
        self.id = id
        self.owner = owner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            owner?.upgradeRefused(id)
            owner = nil
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireChannelRead(data)
    }
}
