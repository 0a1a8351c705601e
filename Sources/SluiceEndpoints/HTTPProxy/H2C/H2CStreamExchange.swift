import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix
import SluiceCore

/// One request of the gateway's async path (flows, CORS, rate limits, failover…) to an h2c endpoint: a stream of
/// the endpoint's ``H2CConnectionPool``, taken on one of the shared event loops, with the request body streamed up
/// and the response body streamed back as the async path's HTTP client would give them (``HTTPClientResponse``),
/// with back-pressure both ways: the upload waits while the stream cannot take more; the stream's reads pause
/// while the reader of the response body has not asked for more (the server then stops at the stream's window).
///
/// Failures are the gateway's errors, as the event-loop path gives them: a backend that cannot be reached 502
/// (504 when connecting timed out), no answer within `readTimeout` 504; after the head, the body fails. A request
/// without a body that finds its reused connection closed is sent again, once, on a new connection.
final class H2CStreamExchange: HTTPProxyBackendSink {
    typealias Body = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, BodyDelegate
    >

    /// The response body's reader asked for more, or went away.
    struct BodyDelegate: NIOAsyncSequenceProducerDelegate {
        let exchange: NIOLoopBound<H2CStreamExchange>

        func produceMore() {
            exchange.eventLoop.execute { exchange.value.setReads(true) }
        }

        func didTerminate() {
            exchange.eventLoop.execute { exchange.value.cancel() }
        }
    }

    let eventLoop: any EventLoop
    private let pool: H2CConnectionPool
    private let endpointName: String
    private let readTimeout: TimeAmount
    private let requestHead: HTTPRequestHead
    /// The whole body when it was read beforehand (failover), sent right after the head; nil when streamed.
    private let bufferedBody: ByteBuffer?
    private let streamsBody: Bool
    private var response: EventLoopPromise<HTTPClientResponse>?
    private var connection: HTTPProxyConnection?
    /// Succeeded when the stream is there (the upload waits for it), failed when the exchange ended first.
    private let streamReady: EventLoopPromise<Void>
    private var streamReadyCompleted = false
    private var writable: EventLoopPromise<Void>?
    private var source: Body.Source?
    private var uploader: Task<Void, Never>?
    private var isOver = false
    private var readsPaused = false
    private var timer: Scheduled<Void>?
    private var lastActivity = NIODeadline.now()
    private var reused = false
    private var retried = false
    private var responseStarted = false

    private init(
        eventLoop: any EventLoop, pool: H2CConnectionPool, endpointName: String, readTimeout: TimeAmount,
        head: HTTPRequestHead, bufferedBody: ByteBuffer?, streamsBody: Bool,
        response: EventLoopPromise<HTTPClientResponse>
    ) {
        self.eventLoop = eventLoop
        self.pool = pool
        self.endpointName = endpointName
        self.readTimeout = readTimeout
        self.requestHead = head
        self.bufferedBody = bufferedBody
        self.streamsBody = streamsBody
        self.response = response
        self.streamReady = eventLoop.makePromise()
    }

    /// Sends `head` and `body` over a stream of `pool`; returns once the response head has arrived.
    static func send(
        head: HTTPRequestHead, body: HTTPProxyRequest.Body, pool: H2CConnectionPool, endpointName: String,
        readTimeout: TimeAmount
    ) async throws -> HTTPClientResponse {
        let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
        let response = eventLoop.makePromise(of: HTTPClientResponse.self)
        let buffered: ByteBuffer?
        let stream: HTTPClientRequest.Body?
        switch body {
        case .none: (buffered, stream) = (nil, nil)
        case .buffered(let buffer): (buffered, stream) = (buffer, nil)
        case .stream(let body): (buffered, stream) = (nil, body)
        }
        let streamsBody = stream != nil
        let exchange = try await eventLoop.submit {
            let exchange = H2CStreamExchange(
                eventLoop: eventLoop, pool: pool, endpointName: endpointName, readTimeout: readTimeout, head: head,
                bufferedBody: buffered, streamsBody: streamsBody, response: response)
            exchange.start()
            return NIOLoopBound(exchange, eventLoop: eventLoop)
        }.get()
        if let stream {
            // Unstructured: the request body goes on after this returns with the response head (a backend may
            // answer before it has read the body); the exchange cancels it when it ends.
            let uploader = Task {
                do {
                    for try await chunk in stream {
                        try await eventLoop.flatSubmit { exchange.value.writeBody(chunk) }.get()
                    }
                    eventLoop.execute { exchange.value.endBody() }
                } catch {
                    eventLoop.execute { exchange.value.cancel() }
                }
            }
            eventLoop.execute { exchange.value.adopt(uploader) }
        }
        return try await withTaskCancellationHandler {
            try await response.futureResult.get()
        } onCancel: {
            eventLoop.execute { exchange.value.cancel() }
        }
    }

    private func start() {
        lastActivity = .now()
        armTimeout(in: readTimeout)
        acquire(fresh: false)
    }

    private func acquire(fresh: Bool) {
        pool.acquire(on: eventLoop, sink: self, fresh: fresh, head: requestHead).assumeIsolated().whenComplete {
            result in
            switch result {
            case .success(let acquired): self.connected(acquired.connection, reused: acquired.reused)
            case .failure(let error): self.fail(Self.connectError(error, endpoint: self.endpointName))
            }
        }
    }

    private func connected(_ connection: HTTPProxyConnection, reused: Bool) {
        guard !isOver else {
            pool.release(connection, reusable: false)
            return
        }
        self.connection = connection
        self.reused = reused
        let channel = connection.channel
        if readsPaused { connection.setReads(false) }
        channel.write(HTTPClientRequestPart.head(requestHead), promise: nil)
        if let bufferedBody {
            channel.write(HTTPClientRequestPart.body(.byteBuffer(bufferedBody)), promise: nil)
        }
        if streamsBody {
            channel.flush()
            if !streamReadyCompleted {
                streamReadyCompleted = true
                streamReady.succeed()
            }
        } else {
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
    }

    // MARK: The request body

    private func adopt(_ task: Task<Void, Never>) {
        if isOver { task.cancel() } else { uploader = task }
    }

    /// Writes a part of the request body; the future completes when the stream can take the next one.
    private func writeBody(_ chunk: ByteBuffer) -> EventLoopFuture<Void> {
        streamReady.futureResult.assumeIsolated().flatMap { () -> EventLoopFuture<Void> in
            guard !self.isOver, let channel = self.connection?.channel else {
                return self.eventLoop.makeFailedFuture(CancellationError())
            }
            channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(chunk)), promise: nil)
            guard !channel.isWritable else { return self.eventLoop.makeSucceededVoidFuture() }
            let promise = self.eventLoop.makePromise(of: Void.self)
            self.writable = promise
            return promise.futureResult
        }.nonisolated()
    }

    private func endBody() {
        streamReady.futureResult.assumeIsolated().whenSuccess {
            guard !self.isOver, let channel = self.connection?.channel else { return }
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
    }

    // MARK: The backend's side

    func backendRead(_ part: HTTPClientResponsePart) {
        guard !isOver else { return }
        lastActivity = .now()
        switch part {
        case .head(let head):
            // Informational answers (103) are not relayed.
            guard head.status.code >= 200, let response else { return }
            responseStarted = true
            self.response = nil
            let bound = NIOLoopBound(self, eventLoop: eventLoop)
            let body = Body.makeSequence(
                elementType: ByteBuffer.self, failureType: (any Error).self,
                backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8), finishOnDeinit: false,
                delegate: BodyDelegate(exchange: bound))
            source = body.source
            response.succeed(
                HTTPClientResponse(
                    version: head.version, status: head.status, headers: head.headers, body: .stream(body.sequence)))
        case .body(let buffer):
            guard let source else { return }
            switch source.yield(buffer) {
            case .produceMore: break
            case .stopProducing: setReads(false)
            case .dropped: cancel()
            }
        case .end:
            let source = self.source
            end()
            source?.finish()
        }
    }

    func backendFailed(_ error: any Error) {
        // A stream on a kept connection the backend had closed meanwhile: the request has not reached it.
        if !isOver, reused, !retried, !responseStarted, !streamsBody, bufferedBody == nil,
            let connection
        {
            retried = true
            self.connection = nil
            pool.release(connection, reusable: false)
            acquire(fresh: true)
            return
        }
        fail(
            .backendConnection(
                "Endpoint '\(endpointName)' broke the exchange: \(String(describing: error).prefix(200))"))
    }

    func backendWritabilityChanged(isWritable: Bool) {
        if isWritable, let writable {
            self.writable = nil
            writable.succeed()
        }
    }

    func backendSwitched(to connection: HTTPProxyConnection) {
        guard !isOver else {
            pool.release(connection, reusable: false)
            return
        }
        self.connection = connection
        if readsPaused { connection.setReads(false) }
    }

    // MARK: Ending

    /// The caller went away (its task was cancelled, or it stopped reading the body): the stream is reset.
    private func cancel() {
        guard !isOver else { return }
        response?.fail(CancellationError())
        response = nil
        let source = self.source
        end()
        source?.finish(CancellationError())
    }

    private func fail(_ error: GatewayError) {
        guard !isOver else { return }
        if let response {
            self.response = nil
            response.fail(error)
        }
        let source = self.source
        end()
        source?.finish(error)
    }

    private func end() {
        isOver = true
        timer?.cancel()
        timer = nil
        source = nil
        uploader?.cancel()
        uploader = nil
        if !streamReadyCompleted {
            streamReadyCompleted = true
            streamReady.fail(CancellationError())
        }
        writable?.fail(CancellationError())
        writable = nil
        if let connection {
            self.connection = nil
            pool.release(connection, reusable: true)
        }
    }

    private func setReads(_ on: Bool) {
        guard readsPaused == on else { return }
        readsPaused = !on
        if on { lastActivity = .now() }
        connection?.setReads(on)
    }

    /// The backend has `readTimeout` to send its next part (its head first); the time its reader is not asking
    /// for more does not count.
    private func armTimeout(in delay: TimeAmount) {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        timer = eventLoop.scheduleTask(in: delay) { bound.value.timeoutFired() }
    }

    private func timeoutFired() {
        guard !isOver else { return }
        let idle = NIODeadline.now() - lastActivity
        if readsPaused || idle < readTimeout {
            armTimeout(in: readsPaused ? readTimeout : readTimeout - idle)
            return
        }
        fail(.backendTimeout("Request timeout: endpoint '\(endpointName)' did not answer in time"))
    }

    static func connectError(_ error: any Error, endpoint: String) -> GatewayError {
        if case ChannelError.connectTimeout = error { return .backendConnectTimeout() }
        return .backendConnection(
            "Endpoint '\(endpoint)' could not be reached: \(String(describing: error).prefix(200))")
    }
}
