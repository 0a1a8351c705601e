import NIOCore
import NIOHTTP1

/// The `OPTIONS *` request that upgrades a new h2c connection when the request it was opened for has a body (an
/// upgrade request's body must be sent whole, in HTTP/1.1, before the connection can switch: the request waits for
/// a stream instead). Its answer is read and dropped, on stream 1 when the backend switched, else in HTTP/1.1,
/// after which the connection joins the HTTP/1.1 ones.
final class H2CUpgradeProbe: HTTPProxyBackendSink {
    let head: HTTPRequestHead
    private let http1: HTTPProxyConnectionPool
    private var connection: HTTPProxyConnection?
    private var keepAlive = true
    /// Kept alive by itself while its answer is read (backend handlers hold their sink weakly).
    private var retained: H2CUpgradeProbe?

    init(authority: String, http1: HTTPProxyConnectionPool) {
        self.head = HTTPRequestHead(version: .http1_1, method: .OPTIONS, uri: "*", headers: ["host": authority])
        self.http1 = http1
    }

    func start(on connection: HTTPProxyConnection) {
        self.connection = connection
        retained = self
        connection.channel.write(HTTPClientRequestPart.head(head), promise: nil)
        connection.channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    func backendRead(_ part: HTTPClientResponsePart) {
        switch part {
        case .head(let response):
            if response.status.code >= 200 { keepAlive = response.isKeepAlive }
        case .body:
            break
        case .end:
            finish(reusable: keepAlive)
        }
    }

    func backendFailed(_ error: any Error) {
        finish(reusable: false)
    }

    func backendWritabilityChanged(isWritable: Bool) {}

    func backendSwitched(to connection: HTTPProxyConnection) {
        self.connection = connection
    }

    private func finish(reusable: Bool) {
        defer { retained = nil }
        guard let connection else { return }
        self.connection = nil
        if connection.channel.parent == nil {
            http1.release(connection, reusable: reusable)
        } else {
            connection.handler.value.end()
            connection.channel.close(promise: nil)
        }
    }
}
