public import NIOCore
public import NIOHTTP1
import NIOPosix
import Synchronization

/// Receives what a backend connection reads during one exchange. Called on the connection's event loop, which is
/// the event loop of the client connection the exchange serves.
public protocol HTTPProxyBackendSink: AnyObject {
    func backendRead(_ part: HTTPClientResponsePart)
    /// The connection ended or failed before the response's end.
    func backendFailed(_ error: any Error)
    func backendWritabilityChanged(isWritable: Bool)
    /// The exchange goes on over `connection` from now on: the HTTP/1.1 connection its request upgraded to h2c
    /// became HTTP/2, and its answer comes on stream 1 (see ``H2CConnectionPool``).
    func backendSwitched(to connection: HTTPProxyConnection)
    /// The connection has handed over everything one read brought: what was written on from it can be flushed.
    func backendReadComplete()
}

extension HTTPProxyBackendSink {
    public func backendReadComplete() {}
}

/// Where an exchange forwarded from an event loop gets its backend connection: a connection of its own
/// (``HTTPProxyConnectionPool``, HTTP/1.1) or a stream of a shared one (``H2CConnectionPool``, h2c). Either way the
/// exchange writes `HTTPClientRequestPart`s to the connection's channel, and its sink gets `HTTPClientResponsePart`s.
public protocol HTTPProxyBackendConnections: AnyObject, Sendable {
    /// A connection on `eventLoop` for one exchange whose reads go to `sink`, for a request with `head` (as it is
    /// sent: an h2c pool may send it on a new connection to upgrade it). `reused` tells whether the connection
    /// carried other exchanges before: one the backend closed meanwhile may be retried on a `fresh` one.
    func acquire(
        on eventLoop: any EventLoop, sink: any HTTPProxyBackendSink, fresh: Bool, head: HTTPRequestHead
    ) -> EventLoopFuture<(connection: HTTPProxyConnection, reused: Bool)>
    /// An idle connection of `eventLoop`, taken at once for an exchange whose reads go to `sink`, when there is
    /// one: the common case of ``acquire(on:sink:fresh:head:)``, without a future. Such a connection is reused.
    func acquireIdle(on eventLoop: any EventLoop, sink: any HTTPProxyBackendSink) -> HTTPProxyConnection?
    /// Gives back a connection whose exchange ended (cleanly when `reusable`).
    func release(_ connection: HTTPProxyConnection, reusable: Bool)
    /// Closes what is idle; what is in use closes when its exchange ends.
    func shutdown()
    /// Exchanges started since the pool was made.
    var exchangeCount: Int { get }
}

extension HTTPProxyBackendConnections {
    public func acquireIdle(on eventLoop: any EventLoop, sink: any HTTPProxyBackendSink) -> HTTPProxyConnection? {
        nil
    }
}

/// Plain HTTP/1.1 connections to one backend (`host:port`), kept per event loop so that a request is forwarded
/// on the event loop that read it: no thread hop, no task. An idle connection is reused for the next request of
/// the same event loop, up to `maxIdlePerLoop` of them; one the backend closes, or left idle for `idleTimeout`,
/// goes.
///
/// The gateway uses it for the requests it forwards from the event loop (see the gateway's event-loop proxy); the
/// others go through the endpoint's HTTP client.
public final class HTTPProxyConnectionPool: HTTPProxyBackendConnections {
    public let host: String
    public let port: Int
    let connectTimeout: TimeAmount
    let idleTimeout: TimeAmount
    let maxIdlePerLoop: Int
    /// Idle connections by event loop, each with its last handler (looked up once, when it was made).
    private let idle = Mutex(IdleConnections())
    private let isShutDown = Atomic<Bool>(false)
    private let exchanges = Atomic<Int>(0)

    /// Exchanges started on this pool's connections since it was made.
    public var exchangeCount: Int { exchanges.load(ordering: .relaxed) }

    public init(host: String, port: Int, connectTimeout: TimeAmount, idleTimeout: TimeAmount, maxIdlePerLoop: Int) {
        self.host = host
        self.port = port
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.maxIdlePerLoop = max(0, maxIdlePerLoop)
    }

    public func acquire(
        on eventLoop: any EventLoop, sink: any HTTPProxyBackendSink, fresh: Bool, head: HTTPRequestHead
    ) -> EventLoopFuture<(connection: HTTPProxyConnection, reused: Bool)> {
        acquire(on: eventLoop, sink: sink, fresh: fresh)
    }

    /// A connection on `eventLoop` for one exchange whose reads go to `sink`: an idle one (unless `fresh`), else
    /// a new one. `reused` tells which: a reused connection may turn out to have been closed by the backend
    /// meanwhile, which a request without a body can be sent again for on a fresh one.
    public func acquire(
        on eventLoop: any EventLoop, sink: any HTTPProxyBackendSink, fresh: Bool = false
    ) -> EventLoopFuture<(connection: HTTPProxyConnection, reused: Bool)> {
        eventLoop.assertInEventLoop()
        if !fresh, let connection = acquireIdle(on: eventLoop, sink: sink) {
            return eventLoop.makeSucceededFuture((connection, true))
        }
        if !fresh { exchanges.add(1, ordering: .relaxed) }
        guard !isShutDown.load(ordering: .relaxed) else {
            return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
        }
        let idleTimeout = self.idleTimeout
        // The sink lives on this event loop, where the connection is made.
        let boundSink = NIOLoopBound(sink, eventLoop: eventLoop)
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    try operations.addHTTPClientHandlers()
                    try operations.addHandler(HTTPProxyBackendHandler(idleTimeout: idleTimeout))
                }
            }
            .connect(host: host, port: port)
            .flatMapThrowing { channel in
                let handler = try channel.pipeline.syncOperations.handler(type: HTTPProxyBackendHandler.self)
                handler.begin(boundSink.value)
                return (
                    HTTPProxyConnection(channel: channel, handler: NIOLoopBound(handler, eventLoop: eventLoop)), false
                )
            }
    }

    public func acquireIdle(on eventLoop: any EventLoop, sink: any HTTPProxyBackendSink) -> HTTPProxyConnection? {
        let key = ObjectIdentifier(eventLoop)
        while let connection = idle.withLock({ $0.popLast(of: key) }) {
            guard connection.channel.isActive else {
                connection.channel.close(promise: nil)
                continue
            }
            exchanges.add(1, ordering: .relaxed)
            connection.handler.value.begin(sink)
            return connection
        }
        return nil
    }

    /// Gives back a connection whose exchange ended cleanly and that may carry another; closes it otherwise.
    public func release(_ connection: HTTPProxyConnection, reusable: Bool) {
        let channel = connection.channel
        channel.eventLoop.assertInEventLoop()
        let handler = connection.handler.value
        handler.end()
        guard reusable, channel.isActive, !isShutDown.load(ordering: .relaxed) else {
            channel.close(promise: nil)
            return
        }
        let key = ObjectIdentifier(channel.eventLoop)
        let maxIdlePerLoop = self.maxIdlePerLoop
        let kept = idle.withLock { $0.append(connection, to: key, limit: maxIdlePerLoop) }
        if kept {
            handler.pool = self
        } else {
            channel.close(promise: nil)
        }
    }

    /// An idle connection that closed or timed out leaves the pool.
    fileprivate func forget(_ channel: any Channel) {
        let key = ObjectIdentifier(channel.eventLoop)
        idle.withLock { $0.remove(channel, of: key) }
    }

    /// Closes the idle connections; connections in use close when their exchange ends.
    public func shutdown() {
        isShutDown.store(true, ordering: .relaxed)
        let channels = idle.withLock { $0.removeAll() }
        for channel in channels { channel.close(promise: nil) }
    }
}

/// The idle connections of a pool, one list per event loop. A few loops, so a short array searched in order: an
/// element of an array is changed in place, where a dictionary's value changed through its subscript costs an
/// allocation each time (the accessor's frame), twice per exchange on the pool's hottest path.
private struct IdleConnections {
    private var lists: [(loop: ObjectIdentifier, connections: [HTTPProxyConnection])] = []

    private func index(of loop: ObjectIdentifier) -> Int? {
        lists.firstIndex { $0.loop == loop }
    }

    mutating func popLast(of loop: ObjectIdentifier) -> HTTPProxyConnection? {
        guard let index = index(of: loop) else { return nil }
        return lists[index].connections.popLast()
    }

    /// Adds `connection` to its loop's list unless that holds `limit` already.
    mutating func append(_ connection: HTTPProxyConnection, to loop: ObjectIdentifier, limit: Int) -> Bool {
        guard let index = index(of: loop) else {
            guard limit > 0 else { return false }
            lists.append((loop, [connection]))
            return true
        }
        guard lists[index].connections.count < limit else { return false }
        lists[index].connections.append(connection)
        return true
    }

    mutating func remove(_ channel: any Channel, of loop: ObjectIdentifier) {
        guard let index = index(of: loop) else { return }
        lists[index].connections.removeAll { $0.channel === channel }
    }

    /// Empties every list; returns the channels they held.
    mutating func removeAll() -> [any Channel] {
        defer { lists.removeAll() }
        return lists.flatMap { $0.connections.map(\.channel) }
    }
}

/// A backend connection of a pool (or a stream of an h2c connection), with its last handler.
public struct HTTPProxyConnection: Sendable {
    public let channel: any Channel
    let handler: NIOLoopBound<HTTPProxyBackendHandler>

    /// Pauses or resumes the connection's reads (back-pressure from the side the answer goes to).
    public func setReads(_ on: Bool) {
        let channel = self.channel
        channel.setOption(ChannelOptions.autoRead, value: on).whenComplete { _ in
            // An HTTP/2 stream's channel does not read again by itself when autoRead comes back on, as a socket's
            // does: it is asked to, or what it holds (and the stream's window) would wait for ever.
            if on, channel.parent != nil { channel.read() }
        }
    }
}

/// The last handler of a backend connection: hands what it reads to the exchange it serves, and closes the
/// connection when it is idle too long in the pool or when it fails.
///
/// Idleness is checked by one timer per connection, due `idleTimeout` after the last exchange ended, rather than
/// by a handler that notes the time of every read: reads and writes then pass one handler fewer.
final class HTTPProxyBackendHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private(set) weak var sink: (any HTTPProxyBackendSink)?
    private var inExchange = false
    /// Set while the connection waits in the pool, which it leaves when it goes.
    weak var pool: HTTPProxyConnectionPool?
    /// How long the connection may wait between exchanges; nil for no limit.
    private let idleTimeout: TimeAmount?
    /// When the last exchange ended (or the connection opened).
    private var idleSince = NIODeadline.now()
    private var idleCheck: Scheduled<Void>?

    init(idleTimeout: TimeAmount? = nil) {
        self.idleTimeout = idleTimeout
    }

    func begin(_ sink: any HTTPProxyBackendSink) {
        self.sink = sink
        inExchange = true
        pool = nil
    }

    func end() {
        sink = nil
        inExchange = false
        if idleTimeout != nil { idleSince = .now() }
    }

    func channelActive(context: ChannelHandlerContext) {
        idleSince = .now()
        scheduleIdleCheck(context: context)
        context.fireChannelActive()
    }

    /// Also when the connection closes: its handlers are removed then.
    func handlerRemoved(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        idleCheck = nil
    }

    /// Checks at the time the connection would have been idle too long, if no exchange came meanwhile; closes it
    /// then, or checks again at the new due time.
    private func scheduleIdleCheck(context: ChannelHandlerContext) {
        guard let idleTimeout else { return }
        let due = inExchange ? NIODeadline.now() + idleTimeout : idleSince + idleTimeout
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleTask(deadline: due) {
            let (handler, context) = bound.value
            handler.idleCheck = nil
            guard context.channel.isActive else { return }
            if !handler.inExchange, NIODeadline.now() >= handler.idleSince + idleTimeout {
                context.close(promise: nil)
            } else {
                handler.scheduleIdleCheck(context: context)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard inExchange, let sink else {
            // Nothing is expected between exchanges: a backend that sends anything then is not to be reused.
            context.close(promise: nil)
            return
        }
        sink.backendRead(part)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if inExchange { sink?.backendReadComplete() }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        sink?.backendWritabilityChanged(isWritable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if inExchange, let sink {
            inExchange = false
            sink.backendFailed(ChannelError.eof)
        }
        pool?.forget(context.channel)
        pool = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if inExchange, let sink {
            inExchange = false
            sink.backendFailed(error)
        }
        context.close(promise: nil)
    }

}
