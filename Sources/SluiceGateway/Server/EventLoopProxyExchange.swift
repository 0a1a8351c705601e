import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceEndpoints
import SluiceEntrypoints

/// One request of a proxy API forwarded right from the client connection's event loop to a backend connection
/// of the same event loop, and the backend's answer relayed back, both bodies streamed part by part with
/// back-pressure both ways (a side that cannot take more stops the other side's reads).
///
/// It answers as the HTTP client path does: a backend that cannot be reached 502 (504 when connecting timed
/// out), no answer within `readTimeout` 504, both with Gravitee's keys; a backend that fails once its answer has
/// begun closes the client's connection, so the client sees the answer is incomplete. A client that goes away
/// closes the backend connection. A backend connection goes back to its pool only after a clean exchange.
final class EventLoopProxyExchange: HTTPProxyBackendSink {
    private enum Backend {
        /// Waiting for a connection; the request's parts read meanwhile wait here.
        case connecting(pending: [HTTPClientRequestPart])
        case connected(HTTPProxyConnection)
        case done
    }

    private let context: ChannelHandlerContext
    private let pool: any HTTPProxyBackendConnections
    private let endpointName: String
    let readTimeout: TimeAmount
    /// The client's HTTP version, and whether its connection stays open after this exchange.
    private let version: HTTPVersion
    private let clientKeepAlive: Bool
    /// Told once, on the event loop, when the exchange is over: whether the client connection is to close, and
    /// the write of the answer's last part (to close after it). The client connection's handler, which holds the
    /// exchange until then.
    private let owner: EventLoopEntrypointHandler
    private var backend: Backend = .connecting(pending: [])
    /// The answer's status and the bytes each way (metrics, access log).
    private(set) var responseStatus = 0
    /// The backend's status (0 until its answer's head), what failed the exchange, and whether the client left
    /// first: its spans' outcome.
    private(set) var backendStatus = 0
    private(set) var failure: GatewayError?
    private(set) var clientLeft = false
    private(set) var requestBodyBytes = 0
    private(set) var responseBodyBytes = 0
    private var pendingBytes = 0
    private(set) var requestEnded = false
    private var responseStarted = false
    private var backendKeepAlive = true
    /// When the backend last sent something (or the request started): the read timeout counts from there. The
    /// client connection's handler checks it with one timer per connection (``timeRemaining()``).
    private var lastActivity = NIODeadline.now()
    /// Parts written to the backend, or to the client, and not flushed yet: flushed when the read that brought
    /// them is over, so that the parts of one read leave in one system call.
    private var backendUnflushed = false
    private var clientUnflushed = false
    private var clientReadsPaused = false
    private var backendReadsPaused = false
    private var isOver = false
    /// The request's head, kept while it may be sent again: a request without a body whose pooled connection
    /// turned out closed goes again on a fresh connection, once.
    private var head: HTTPRequestHead?
    /// The request's head as sent (an h2c pool reads it).
    private var requestHead: HTTPRequestHead?
    private var bodyless = true
    private var reused = false
    private var retried = false
    /// Whether the request lets the backend connection be kept (no `Connection: close` sent).
    private var requestKeepAlive = true

    /// Request bytes held while the backend connection is being made, past which the client's reads pause.
    static let maxPendingBytes = 256 * 1024

    init(
        context: ChannelHandlerContext, pool: any HTTPProxyBackendConnections,
        endpointName: String,
        readTimeout: TimeAmount,
        version: HTTPVersion, clientKeepAlive: Bool, owner: EventLoopEntrypointHandler
    ) {
        self.context = context
        self.pool = pool
        self.endpointName = endpointName
        self.readTimeout = readTimeout
        self.version = version
        self.clientKeepAlive = clientKeepAlive
        self.owner = owner
    }

    /// Sends `head` to a backend connection (taken from the pool, else made).
    func start(_ head: HTTPRequestHead) {
        self.head = head
        requestHead = head
        requestKeepAlive = head.isKeepAlive
        lastActivity = .now()
        if let connection = pool.acquireIdle(on: context.eventLoop, sink: self) {
            // The usual case: the head goes at once (it is flushed at the end of the client's read).
            backend = .connecting(pending: [])
            connection.channel.write(NIOAny(HTTPClientRequestPart.head(head)), promise: nil)
            connected(connection, reused: true, flush: false)
            return
        }
        backend = .connecting(pending: [.head(head)])
        connect(fresh: false)
    }

    /// Asks the pool for a connection it may have to make (`fresh`: a new one); the pending parts go when it comes.
    private func connect(fresh: Bool) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        guard let requestHead else { return }
        pool.acquire(on: context.eventLoop, sink: self, fresh: fresh, head: requestHead).whenComplete { result in
            let exchange = bound.value
            switch result {
            case .success(let acquired): exchange.connected(acquired.connection, reused: acquired.reused, flush: true)
            case .failure(let error): exchange.fail(Self.connectError(error, endpoint: exchange.endpointName))
            }
        }
    }

    private func connected(_ connection: HTTPProxyConnection, reused: Bool, flush: Bool) {
        guard case .connecting(let pending) = backend, !isOver else {
            // The exchange ended while connecting (the client left): the connection is not needed.
            pool.release(connection, reusable: true)
            return
        }
        self.reused = reused
        backend = .connected(connection)
        let channel = connection.channel
        for part in pending { channel.write(NIOAny(part), promise: nil) }
        if flush || requestEnded {
            channel.flush()
        } else {
            backendUnflushed = true
        }
        pendingBytes = 0
        if clientReadsPaused, channel.isWritable { setClientReads(true) }
    }

    // MARK: The client's side

    /// A part of the client's request (after its head).
    func clientRead(_ part: HTTPServerRequestPart) {
        guard !isOver else { return }
        // The request body still flowing counts as progress: the backend's time to answer runs from its last
        // part (as nginx's read timeout runs between reads), so a long upload is not cut off by readTimeout.
        lastActivity = .now()
        let outgoing: HTTPClientRequestPart
        switch part {
        case .head:
            return
        case .body(let buffer):
            bodyless = false
            requestBodyBytes += buffer.readableBytes
            head = nil
            outgoing = .body(.byteBuffer(buffer))
        case .end(let trailers):
            requestEnded = true
            outgoing = .end(trailers)
        }
        switch backend {
        case .connecting(var pending):
            pending.append(outgoing)
            if case .body(let buffer) = part {
                pendingBytes += buffer.readableBytes
                if pendingBytes > Self.maxPendingBytes, !clientReadsPaused { setClientReads(false) }
            }
            backend = .connecting(pending: pending)
        case .connected(let connection):
            let channel = connection.channel
            if requestEnded {
                channel.writeAndFlush(NIOAny(outgoing), promise: nil)
                backendUnflushed = false
            } else {
                channel.write(NIOAny(outgoing), promise: nil)
                backendUnflushed = true
            }
            if !channel.isWritable, !clientReadsPaused { setClientReads(false) }
        case .done:
            break
        }
    }

    /// The client's read is over: what it brought for the backend leaves now.
    func clientReadComplete() {
        guard backendUnflushed, case .connected(let connection) = backend else { return }
        backendUnflushed = false
        connection.channel.flush()
    }

    func clientWritabilityChanged(isWritable: Bool) {
        setBackendReads(isWritable)
    }

    /// The client went away: the backend connection closes (its answer has no one to go to).
    func clientGone() {
        guard !isOver else { return }
        isOver = true
        clientLeft = true
        if case .connected(let connection) = backend { pool.release(connection, reusable: false) }
        backend = .done
    }

    // MARK: The backend's side

    func backendRead(_ part: HTTPClientResponsePart) {
        guard !isOver else { return }
        lastActivity = .now()
        switch part {
        case .head(let head):
            // Informational answers (103) are not relayed.
            guard head.status.code >= 200 else { return }
            responseStarted = true
            responseStatus = Int(head.status.code)
            backendStatus = responseStatus
            self.head = nil
            backendKeepAlive = head.isKeepAlive
            // Through the connection's response encoder, always: it pairs each answer's head with its request's
            // method (a HEAD's answer has no body), and a head written past it would leave that pairing one
            // behind for the rest of the connection.
            var headers = HTTPProxyEntrypoint.forwardedResponseHeaders(nio: head.headers)
            if !clientKeepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
            context.write(
                NIOAny(
                    HTTPServerResponsePart.head(
                        HTTPResponseHead(version: version, status: head.status, headers: headers))
                ),
                promise: nil)
            clientUnflushed = true
        case .body(let buffer):
            responseBodyBytes += buffer.readableBytes
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))), promise: nil)
            clientUnflushed = true
            if !context.channel.isWritable { setBackendReads(false) }
        case .end(let trailers):
            clientUnflushed = false
            let closeClient = !clientKeepAlive || !requestEnded
            // Only a connection that closes after the answer waits for its last write.
            var written: EventLoopFuture<Void>?
            let end = NIOAny(HTTPServerResponsePart.end(trailers))
            if closeClient {
                written = context.writeAndFlush(end)
            } else {
                context.writeAndFlush(end, promise: nil)
            }
            self.end(
                backendReusable: requestEnded && backendKeepAlive && requestKeepAlive, closeClient: closeClient,
                lastWrite: written)
        }
    }

    func backendFailed(_ error: any Error) {
        // A kept connection the backend had closed meanwhile: the request has not reached it; sent again once.
        if !isOver, reused, !retried, !responseStarted, bodyless, requestEnded, let head,
            case .connected(let connection) = backend
        {
            retried = true
            pool.release(connection, reusable: false)
            backend = .connecting(pending: [.head(head), .end(nil)])
            connect(fresh: true)
            return
        }
        fail(
            .backendConnection(
                "Endpoint '\(endpointName)' broke the exchange: \(String(describing: error).prefix(200))"))
    }

    func backendReadComplete() {
        guard clientUnflushed, !isOver else { return }
        clientUnflushed = false
        context.flush()
    }

    func backendWritabilityChanged(isWritable: Bool) {
        if isWritable, clientReadsPaused { setClientReads(true) }
    }

    /// The h2c upgrade the request carried was accepted: its answer comes on stream 1 of the upgraded connection.
    func backendSwitched(to connection: HTTPProxyConnection) {
        guard !isOver, case .connected = backend else {
            pool.release(connection, reusable: false)
            return
        }
        backend = .connected(connection)
        if backendReadsPaused {
            connection.setReads(false)
        }
    }

    // MARK: Ending

    /// Answers with `error` if the answer has not begun, else cuts the client's connection.
    private func fail(_ error: GatewayError) {
        guard !isOver else { return }
        failure = error
        if responseStarted {
            if clientUnflushed { context.flush() }
            end(backendReusable: false, closeClient: true, lastWrite: nil)
            return
        }
        // A request whose body has not all been read cannot leave the connection usable.
        let closeClient = !clientKeepAlive || !requestEnded
        responseStatus = error.status
        // The handler closes the connection after this write when it is to close.
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeGatewayError(
            error, version: version, closeAfter: false, headers: closeClient ? ["connection": "close"] : [:],
            promise: written)
        end(backendReusable: false, closeClient: closeClient, lastWrite: written.futureResult)
    }

    private func end(backendReusable: Bool, closeClient: Bool, lastWrite: EventLoopFuture<Void>?) {
        isOver = true
        if case .connected(let connection) = backend {
            setBackendReads(true)
            pool.release(connection, reusable: backendReusable)
        }
        backend = .done
        if clientReadsPaused { setClientReads(true) }
        owner.proxyEnded(closeClient: closeClient, lastWrite: lastWrite, context: context)
    }

    /// How long the backend still has to send its next part (its head first, counted from the request's last part),
    /// checked by the client connection's timer; nil when the exchange is over, or when the time ran out and the exchange failed with a 504.
    func timeRemaining() -> TimeAmount? {
        guard !isOver else { return nil }
        let idle = NIODeadline.now() - lastActivity
        if idle < readTimeout { return readTimeout - idle }
        fail(.backendTimeout("Request timeout: endpoint '\(endpointName)' did not answer in time"))
        return nil
    }

    private func setClientReads(_ on: Bool) {
        clientReadsPaused = !on
        context.channel.setOption(ChannelOptions.autoRead, value: on).whenComplete { _ in }
    }

    private func setBackendReads(_ on: Bool) {
        guard backendReadsPaused == on, case .connected(let connection) = backend else { return }
        backendReadsPaused = !on
        connection.setReads(on)
    }

    static func connectError(_ error: any Error, endpoint: String) -> GatewayError {
        if case ChannelError.connectTimeout = error { return .backendConnectTimeout() }
        return .backendConnection(
            "Endpoint '\(endpoint)' could not be reached: \(String(describing: error).prefix(200))")
    }
}
