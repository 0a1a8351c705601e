import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// One event loop's h2c connections to a backend (see ``H2CConnectionPool``): carries out what its
/// ``H2CPoolState`` decides: opens connections (and upgrades them), opens streams for requests, passes requests to
/// HTTP/1.1, fails them. Used on its event loop only.
final class H2CLoopConnections {
    /// A request for a stream.
    struct Waiter {
        var sink: any HTTPProxyBackendSink
        var promise: EventLoopPromise<(connection: HTTPProxyConnection, reused: Bool)>
        var head: HTTPRequestHead
        var fresh: Bool
    }

    /// A connection's channel and, once it speaks HTTP/2, its stream multiplexer.
    final class Connection {
        var channel: (any Channel)?
        var multiplexer: NIOHTTP2Handler.StreamMultiplexer?
        /// Why it is being closed, for the requests waiting for it.
        var failure: (any Error)?
        var handshakeTimer: Scheduled<Void>?
        /// The `OPTIONS *` request upgrading it, kept until its answer has been read.
        var probe: H2CUpgradeProbe?
    }

    let eventLoop: any EventLoop
    let settings: H2CConnectionPool.Settings
    let http1: HTTPProxyConnectionPool
    let counters: H2CConnectionPool.Counters
    private var state: H2CPoolState<Waiter>
    private var live: [Int: Connection] = [:]
    private var isShutDown = false

    init(
        eventLoop: any EventLoop, settings: H2CConnectionPool.Settings, http1: HTTPProxyConnectionPool,
        counters: H2CConnectionPool.Counters
    ) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.http1 = http1
        self.counters = counters
        self.state = H2CPoolState(
            mode: settings.mode, maxConnections: settings.maxConnectionsPerLoop, maxWaiting: settings.maxWaitingPerLoop,
            oneStreamPerConnection: !settings.keepAlive)
    }

    func acquire(
        sink: any HTTPProxyBackendSink, fresh: Bool, head: HTTPRequestHead
    ) -> EventLoopFuture<(connection: HTTPProxyConnection, reused: Bool)> {
        let promise = eventLoop.makePromise(of: (connection: HTTPProxyConnection, reused: Bool).self)
        let waiter = Waiter(sink: sink, promise: promise, head: head, fresh: fresh)
        guard !isShutDown else {
            promise.fail(ChannelError.ioOnClosedChannel)
            return promise.futureResult
        }
        switch state.streamRequested(bodyless: head.isBodyless, fresh: fresh, now: .now(), waiter: waiter) {
        case .stream(let id, let reused):
            openStream(on: id, for: waiter, reused: reused)
        case .http1:
            http1.acquire(on: eventLoop, sink: sink, fresh: fresh).cascade(to: promise)
        case .carrier(let id):
            open(id, carrier: waiter)
        case .queued(let opening):
            if let opening { open(opening.connectionID, carrier: nil) }
        case .refused:
            promise.fail(H2CTooManyWaiting(limit: settings.maxWaitingPerLoop))
        }
        return promise.futureResult
    }

    func shutdown() {
        isShutDown = true
        apply(state.shutDown(), failure: ChannelError.ioOnClosedChannel)
    }

    // MARK: Connections

    /// Opens connection `id`. In upgrade mode its first request carries the upgrade: `carrier`'s own, or a
    /// probe's.
    private func open(_ id: Int, carrier: Waiter?) {
        counters.connections.add(1, ordering: .relaxed)
        let connection = Connection()
        live[id] = connection
        let settings = self.settings
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let upgrade: NIOLoopBound<(head: HTTPRequestHead, sink: any HTTPProxyBackendSink)>?
        if settings.mode == .upgrade, let carrier {
            upgrade = NIOLoopBound((carrier.head, carrier.sink), eventLoop: eventLoop)
        } else if settings.mode == .upgrade {
            let probe = H2CUpgradeProbe(authority: settings.authority, http1: http1)
            connection.probe = probe
            upgrade = NIOLoopBound((probe.head, probe), eventLoop: eventLoop)
        } else {
            upgrade = nil
        }
        connection.handshakeTimer = eventLoop.scheduleTask(in: settings.connectTimeout) {
            bound.value.handshakeTimedOut(id)
        }
        ClientBootstrap(group: eventLoop)
            .connectTimeout(settings.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: settings.idleTimeout))
                    if let upgrade {
                        try bound.value.addUpgradeHandlers(
                            to: channel, id: id, head: upgrade.value.head, sink: upgrade.value.sink)
                    } else {
                        try bound.value.addHTTP2Handlers(to: channel, id: id)
                    }
                }
            }
            .connect(host: settings.host, port: settings.port)
            .hop(to: eventLoop)
            .assumeIsolated()
            .whenComplete { result in self.connected(id, result, carrier: carrier) }
    }

    private func connected(_ id: Int, _ result: Result<any Channel, any Error>, carrier: Waiter?) {
        switch result {
        case .failure(let error):
            live.removeValue(forKey: id)?.handshakeTimer?.cancel()
            carrier?.promise.fail(error)
            apply(state.connectionClosed(id, failedToOpen: true, now: .now()), failure: error)
        case .success(let channel):
            guard let connection = live[id] else {
                // Shut down meanwhile.
                channel.close(promise: nil)
                carrier?.promise.fail(ChannelError.ioOnClosedChannel)
                return
            }
            connection.channel = channel
            channel.closeFuture.assumeIsolated().whenComplete { _ in self.closed(id) }
            guard settings.mode == .upgrade else { return }
            do {
                let handler = try channel.pipeline.syncOperations.handler(type: HTTPProxyBackendHandler.self)
                let http1Connection = HTTPProxyConnection(
                    channel: channel, handler: NIOLoopBound(handler, eventLoop: eventLoop))
                if let carrier {
                    carrier.promise.succeed((http1Connection, false))
                } else if let probe = connection.probe {
                    probe.start(on: http1Connection)
                }
            } catch {
                carrier?.promise.fail(error)
                channel.close(promise: nil)
            }
        }
    }

    /// HTTP/2 from the first byte: the preface is sent when the channel becomes active.
    func addHTTP2Handlers(to channel: any Channel, id: Int) throws {
        let operations = channel.pipeline.syncOperations
        let multiplexer = try operations.configureHTTP2Pipeline(
            mode: .client, connectionConfiguration: H2CSettings.connection, streamConfiguration: H2CSettings.stream,
            inboundStreamInitializer: { stream in stream.close() })
        try operations.addHandler(H2CConnectionHandler(id: id, owner: self))
        live[id]?.multiplexer = multiplexer
    }

    /// HTTP/1.1 with an upgrade to h2c on the first request, whose answer goes to `sink`.
    func addUpgradeHandlers(
        to channel: any Channel, id: Int, head: HTTPRequestHead, sink: any HTTPProxyBackendSink
    ) throws {
        let operations = channel.pipeline.syncOperations
        let encoder = HTTPRequestEncoder()
        let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
        let upgradeHandler = NIOHTTPClientUpgradeHandler(
            upgraders: [H2CClientUpgrader(id: id, owner: self, head: head)], httpHandlers: [encoder, decoder],
            upgradeCompletionHandler: { _ in })
        let backend = HTTPProxyBackendHandler()
        try operations.addHandler(encoder)
        try operations.addHandler(decoder)
        try operations.addHandler(upgradeHandler)
        try operations.addHandler(H2CUpgradeOutcomeHandler(id: id, owner: self))
        try operations.addHandler(backend)
        backend.begin(sink)
    }

    /// `101 Switching Protocols`: the connection speaks HTTP/2 from the next byte, and the answer to the request
    /// that carried the upgrade comes on stream 1. NIO's HTTP/2 state machine knows no stream it did not open, so
    /// the request is "sent" again on stream 1: its HEADERS frame goes through the connection's state and encoder
    /// (not indexed, so that the encoder's table stays the backend's) and is dropped before the socket
    /// (``H2CStreamOneFilter``).
    func upgradeAccepted(_ id: Int, context: ChannelHandlerContext, head: HTTPRequestHead) -> EventLoopFuture<Void> {
        let channel = context.channel
        let operations = channel.pipeline.syncOperations
        live[id]?.handshakeTimer?.cancel()
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        live[id]?.handshakeTimer = eventLoop.scheduleTask(in: settings.connectTimeout) {
            bound.value.handshakeTimedOut(id)
        }
        let sink: (any HTTPProxyBackendSink)?
        do {
            let backend = try operations.handler(type: HTTPProxyBackendHandler.self)
            sink = backend.sink
            backend.end()
            operations.removeHandler(backend, promise: nil)
            if let outcome = try? operations.handler(type: H2CUpgradeOutcomeHandler.self) {
                operations.removeHandler(outcome, promise: nil)
            }
            try operations.addHandler(H2CStreamOneFilter())
            try addHTTP2Handlers(to: channel, id: id)
            // The connection carries every stream from now on: its own reads are never paused (the carrier's
            // exchange may have paused them while it was its HTTP/1.1 connection).
            channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        } catch {
            channel.close(promise: nil)
            return eventLoop.makeFailedFuture(error)
        }
        counters.upgrades.add(1, ordering: .relaxed)
        counters.streams.add(1, ordering: .relaxed)
        state.upgraded(id)
        guard let multiplexer = live[id]?.multiplexer, let sink else {
            channel.close(promise: nil)
            return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
        }
        let sent = eventLoop.makePromise(of: Void.self)
        openStream(on: multiplexer, id: id, sink: sink, streamOne: true).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let stream):
                // Switched first: writing the request on stream 1 can hand over at once the answer the backend
                // already sent on it (read with the 101), and that answer must find the exchange on the stream,
                // not on the HTTP/1.1 connection it came from.
                sink.backendSwitched(to: stream)
                stream.channel.write(HTTPClientRequestPart.head(head), promise: nil)
                stream.channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: sent)
            case .failure(let error):
                sent.fail(error)
            }
        }
        sent.futureResult.assumeIsolated().whenFailure { error in
            sink.backendFailed(error)
            channel.close(promise: nil)
        }
        return sent.futureResult
    }

    /// The request that carried the upgrade was answered in HTTP/1.1: the connection is an HTTP/1.1 one from now
    /// on (its exchange goes on over it, then gives it to the HTTP/1.1 connections).
    func upgradeRefused(_ id: Int) {
        live.removeValue(forKey: id)?.handshakeTimer?.cancel()
        apply(state.upgradeRefused(id, now: .now()))
    }

    func settingsReceived(_ id: Int, maxConcurrentStreams: Int?) {
        if state.isOpening(id) { live[id]?.handshakeTimer?.cancel() }
        apply(state.settingsReceived(id, maxConcurrentStreams: maxConcurrentStreams, now: .now()))
    }

    func goAwayReceived(_ id: Int) {
        apply(state.goAwayReceived(id, now: .now()))
    }

    /// The connection has read nothing for the idle timeout.
    func idleTimeoutFired(_ id: Int) {
        if state.idleTimeoutFired(id) { live[id]?.channel?.close(promise: nil) }
    }

    /// The connection failed: the requests waiting for it are told why.
    func connectionFailed(_ id: Int, error: any Error) {
        if let connection = live[id], connection.failure == nil { connection.failure = error }
    }

    private func closed(_ id: Int) {
        guard let connection = live.removeValue(forKey: id) else { return }
        connection.handshakeTimer?.cancel()
        let failedToOpen = state.isOpening(id)
        apply(
            state.connectionClosed(id, failedToOpen: failedToOpen, now: .now()),
            failure: connection.failure ?? ChannelError.eof)
    }

    /// Prior knowledge: no SETTINGS within the connect timeout fails the connection. Upgrade: no answer to the
    /// upgrade request within it sends the requests waiting for it to HTTP/1.1.
    private func handshakeTimedOut(_ id: Int) {
        switch state.phase(of: id) {
        case .upgrading(undecided: false):
            apply(state.upgradeUndecided(id, now: .now()))
        case .connecting:
            guard let connection = live[id] else { return }
            connection.failure = ChannelError.connectTimeout(settings.connectTimeout)
            connection.channel?.close(promise: nil)
        default:
            break
        }
    }

    // MARK: Streams

    private func openStream(on id: Int, for waiter: Waiter, reused: Bool) {
        guard let multiplexer = live[id]?.multiplexer else {
            waiter.promise.fail(ChannelError.ioOnClosedChannel)
            apply(state.streamClosed(id, now: .now()))
            return
        }
        counters.streams.add(1, ordering: .relaxed)
        openStream(on: multiplexer, id: id, sink: waiter.sink, streamOne: false).assumeIsolated().whenComplete {
            result in
            switch result {
            case .success(let stream): waiter.promise.succeed((stream, reused))
            case .failure(let error): waiter.promise.fail(error)
            }
        }
    }

    /// A new stream of connection `id` whose reads go to `sink`, as a connection of its own; its close (or its
    /// failure to open) is told to the connection's state.
    private func openStream(
        on multiplexer: NIOHTTP2Handler.StreamMultiplexer, id: Int, sink: any HTTPProxyBackendSink, streamOne: Bool
    ) -> EventLoopFuture<HTTPProxyConnection> {
        let boundSink = NIOLoopBound(sink, eventLoop: eventLoop)
        let streamPromise = eventLoop.makePromise(of: (any Channel).self)
        multiplexer.createStreamChannel(promise: streamPromise) { stream in
            stream.eventLoop.makeCompletedFuture {
                try Self.addStreamHandlers(to: stream, sink: boundSink.value, streamOne: streamOne)
            }
        }
        let opened = eventLoop.makePromise(of: HTTPProxyConnection.self)
        streamPromise.futureResult.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let stream):
                stream.closeFuture.assumeIsolated().whenComplete { _ in self.streamClosed(id) }
                do {
                    let handler = try stream.pipeline.syncOperations.handler(type: HTTPProxyBackendHandler.self)
                    opened.succeed(
                        HTTPProxyConnection(channel: stream, handler: NIOLoopBound(handler, eventLoop: self.eventLoop)))
                } catch {
                    opened.fail(error)
                    stream.close(promise: nil)
                }
            case .failure(let error):
                self.streamClosed(id)
                opened.fail(error)
            }
        }
        return opened.futureResult
    }

    private func streamClosed(_ id: Int) {
        apply(state.streamClosed(id, now: .now()))
    }

    /// A stream speaks HTTP/1 parts (NIO's codec), and its reads go to `sink`.
    static func addStreamHandlers(to stream: any Channel, sink: any HTTPProxyBackendSink, streamOne: Bool) throws {
        let operations = stream.pipeline.syncOperations
        if streamOne { try operations.addHandler(H2CUnindexedHeadersHandler()) }
        try operations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http))
        let handler = HTTPProxyBackendHandler()
        try operations.addHandler(handler)
        handler.begin(sink)
    }

    private func apply(_ dispatch: H2CPoolState<Waiter>.Dispatch, failure: (any Error)? = nil) {
        for id in dispatch.close { live[id]?.channel?.close(promise: nil) }
        for stream in dispatch.streams {
            openStream(on: stream.connectionID, for: stream.waiter, reused: stream.reused)
        }
        for waiter in dispatch.http1 {
            http1.acquire(on: eventLoop, sink: waiter.sink, fresh: waiter.fresh).cascade(to: waiter.promise)
        }
        for waiter in dispatch.failed { waiter.promise.fail(failure ?? ChannelError.ioOnClosedChannel) }
        if let opening = dispatch.open { open(opening.connectionID, carrier: nil) }
    }
}

extension HTTPRequestHead {
    /// Whether the request announces no body at all (servers such as Hypercorn do not upgrade a request that
    /// has a `Content-Length`, even 0).
    var isBodyless: Bool {
        !headers.contains(name: "transfer-encoding") && !headers.contains(name: "content-length")
    }
}
