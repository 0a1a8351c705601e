import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import SluiceEntrypoints

/// Hummingbird's HTTP/1 + WebSocket upgrade channel, with ``HTTPParserErrorHandler`` placed right after the
/// HTTP decoder so that malformed and oversized requests get an answer.
struct GatewayChildChannel: ServerChildChannel {
    typealias Value = HTTP1WebSocketUpgradeChannel.Value

    let inner: HTTP1WebSocketUpgradeChannel
    let headerLimit: Int
    let registry: DeploymentRegistry
    let limits: GatewayLimits

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let operations = channel.pipeline.syncOperations
            try operations.addHandler(ClientDepartureHandler(), position: .first)
            let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let parserErrors = HTTPParserErrorHandler(headerLimit: headerLimit)
            try operations.addHandler(parserErrors, position: .after(decoder))
            try operations.addHandler(
                EventLoopEntrypointHandler(registry: registry, limits: limits), position: .after(parserErrors))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        // A connection whose requests were all served on the event loop never reaches the upgrade decision, and
        // closing it fails the pending decision, which Hummingbird reports as an error. That is the normal end of
        // such a connection, so Hummingbird's own per-connection log is held to critical here; the gateway logs
        // what matters on its side.
        var quiet = logger
        quiet.logLevel = .critical
        await inner.handle(value: value, logger: quiet)
    }
}
