public import NIOCore
public import NIOHTTP1
import Synchronization

/// HTTP/2 over clear text (h2c) to one backend (`host:port`): a few connections per event loop, each carrying many
/// exchanges at once as streams, so that a request is forwarded on the event loop that read it, as
/// ``HTTPProxyConnectionPool`` does for HTTP/1.1. An exchange gets a stream channel that speaks
/// `HTTPClientRequestPart`/`HTTPClientResponsePart` (NIO's HTTP/2-to-HTTP/1 codec), so it is served like an HTTP/1.1
/// one.
///
/// `priorKnowledge` starts each connection with the HTTP/2 preface; `upgrade` sends an HTTP/1.1 request with
/// `Upgrade: h2c` first (RFC 7540 §3.2), and a backend that does not switch is spoken to in HTTP/1.1 through this
/// pool's own HTTP/1.1 connections. Which connection a request gets, when one is opened and when requests wait is
/// ``H2CPoolState``'s to say; the server's SETTINGS_MAX_CONCURRENT_STREAMS is respected.
public final class H2CConnectionPool: HTTPProxyBackendConnections {
    public enum Mode: Sendable {
        /// HTTP/2 from the first byte (`clearTextUpgrade: false`).
        case priorKnowledge
        /// An HTTP/1.1 request upgrades each new connection (`clearTextUpgrade: true`).
        case upgrade
    }

    /// What every connection of the pool is made with.
    struct Settings: Sendable {
        var host: String
        var port: Int
        /// The `Host` an `OPTIONS *` probe is sent with.
        var authority: String
        var mode: Mode
        var connectTimeout: TimeAmount
        var idleTimeout: TimeAmount
        var maxConnectionsPerLoop: Int
        var keepAlive: Bool
        /// Requests waiting for a stream, per event loop, past which a request is refused.
        var maxWaitingPerLoop: Int
    }

    /// Counts kept for tests and statistics.
    final class Counters: Sendable {
        let exchanges = Atomic<Int>(0)
        let connections = Atomic<Int>(0)
        let streams = Atomic<Int>(0)
        let upgrades = Atomic<Int>(0)
    }

    public var host: String { settings.host }
    public var port: Int { settings.port }
    public var mode: Mode { settings.mode }
    let settings: Settings
    let counters = Counters()
    /// The backend's HTTP/1.1 connections, when it did not upgrade.
    let http1: HTTPProxyConnectionPool
    private let loops = Mutex<[ObjectIdentifier: NIOLoopBound<H2CLoopConnections>]>([:])
    private let isShutDown = Atomic<Bool>(false)

    /// Exchanges started on this pool since it was made.
    public var exchangeCount: Int { counters.exchanges.load(ordering: .relaxed) }
    /// Connections opened since the pool was made (HTTP/2 or being upgraded).
    public var connectionsOpened: Int { counters.connections.load(ordering: .relaxed) }
    /// Streams opened since the pool was made (an upgraded connection's stream 1 included).
    public var streamsOpened: Int { counters.streams.load(ordering: .relaxed) }
    /// Connections that switched to HTTP/2 after an `Upgrade: h2c` request.
    public var upgradesAccepted: Int { counters.upgrades.load(ordering: .relaxed) }

    public init(
        host: String, port: Int, authority: String, mode: Mode, connectTimeout: TimeAmount, idleTimeout: TimeAmount,
        maxConnectionsPerLoop: Int, keepAlive: Bool, maxWaitingPerLoop: Int = 1_000
    ) {
        self.settings = Settings(
            host: host, port: port, authority: authority, mode: mode, connectTimeout: connectTimeout,
            idleTimeout: idleTimeout, maxConnectionsPerLoop: max(1, maxConnectionsPerLoop), keepAlive: keepAlive,
            maxWaitingPerLoop: maxWaitingPerLoop)
        self.http1 = HTTPProxyConnectionPool(
            host: host, port: port, connectTimeout: connectTimeout, idleTimeout: idleTimeout,
            maxIdlePerLoop: keepAlive ? maxConnectionsPerLoop : 0)
    }

    public func acquire(
        on eventLoop: any EventLoop, sink: any HTTPProxyBackendSink, fresh: Bool, head: HTTPRequestHead
    ) -> EventLoopFuture<(connection: HTTPProxyConnection, reused: Bool)> {
        eventLoop.assertInEventLoop()
        if !fresh { counters.exchanges.add(1, ordering: .relaxed) }
        guard !isShutDown.load(ordering: .relaxed) else {
            return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
        }
        return connections(on: eventLoop).acquire(sink: sink, fresh: fresh, head: head)
    }

    /// A stream is closed by its exchange (reset if it has not ended); an HTTP/1.1 connection goes back to the
    /// HTTP/1.1 connections.
    public func release(_ connection: HTTPProxyConnection, reusable: Bool) {
        connection.channel.eventLoop.assertInEventLoop()
        guard connection.channel.parent != nil else {
            http1.release(connection, reusable: reusable)
            return
        }
        connection.handler.value.end()
        connection.channel.close(promise: nil)
    }

    /// Closes every connection, at once: the exchanges in flight fail (the gateway is stopping, or the API
    /// was withdrawn).
    public func shutdown() {
        isShutDown.store(true, ordering: .relaxed)
        http1.shutdown()
        let all = loops.withLock { loops in
            defer { loops.removeAll() }
            return Array(loops.values)
        }
        for bound in all {
            bound.eventLoop.execute { bound.value.shutdown() }
        }
    }

    /// This event loop's connections, made on first use.
    private func connections(on eventLoop: any EventLoop) -> H2CLoopConnections {
        let key = ObjectIdentifier(eventLoop)
        let bound = loops.withLock { loops -> NIOLoopBound<H2CLoopConnections>? in loops[key] }
        if let bound { return bound.value }
        let made = H2CLoopConnections(eventLoop: eventLoop, settings: settings, http1: http1, counters: counters)
        loops.withLock { loops in loops[key] = NIOLoopBound(made, eventLoop: eventLoop) }
        return made
    }
}

/// A request refused because too many wait for a stream to its backend already.
struct H2CTooManyWaiting: Error, CustomStringConvertible {
    var limit: Int
    var description: String {
        "\(limit) requests already wait for a stream to this backend (every connection has its server's maximum)"
    }
}
