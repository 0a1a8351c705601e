import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceEndpoints
import Synchronization

/// The data path of one SSE stream whose messages come from a ring (a shared tail, the embedded log), served by the
/// connection's event loop with no task of its own.
///
/// It pulls as ``RingPull`` describes (the socket draining is `channelWritabilityChanged`), with events from a
/// ``RingBatchCache`` of Server-Sent Events; heartbeats come from a repeating timer on the same loop.
///
/// The response head, the `retry:` line and what ends the response (`event: error`, `event: goaway`, the end) are
/// written by the entrypoint's task through Hummingbird's response writer, before the stream starts and after it
/// has ended. The stream sits right after the HTTP response encoder and writes body parts through it (chunked as
/// the head says); every response part from the task passes it, and an end of the response ends the stream before
/// it goes on, so no event ever follows the end.
final class SSERingStream: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    typealias End = RingStreamEnd

    /// Stops a stream from any thread, also one that has not started yet (it then ends as soon as it starts).
    final class Stopper: Sendable {
        private struct State {
            var stopped = false
            var action: (@Sendable () -> Void)?
        }

        private let state = Mutex(State())

        init() {}

        func stop() {
            let action = state.withLock { state -> (@Sendable () -> Void)? in
                guard !state.stopped else { return nil }
                state.stopped = true
                defer { state.action = nil }
                return state.action
            }
            action?()
        }

        /// Runs `action` on ``stop()`` (at once when it was already stopped).
        fileprivate func onStop(_ action: @escaping @Sendable () -> Void) {
            let stopped = state.withLock { state -> Bool in
                if !state.stopped { state.action = action }
                return state.stopped
            }
            if stopped { action() }
        }
    }

    /// Streams being served now, gateway-wide (which path a subscriber took, for tests and diagnostics).
    static let active = Atomic<Int>(0)

    private var pull: RingPull
    private let formatter: ServerSentEventWriter
    private let heartbeat: TimeAmount
    private let ended: EventLoopPromise<End>
    private var context: ChannelHandlerContext?
    /// What the ring calls on an append this stream watches for: a pump on the stream's loop.
    private var wake: (@Sendable () -> Void)?
    private var heartbeatTask: RepeatedTask?
    private var lastWrite = NIODeadline.now()
    private var finished = false

    private init(
        source: any RingBackedSource, cache: RingBatchCache, formatter: ServerSentEventWriter, heartbeat: TimeAmount,
        ended: EventLoopPromise<End>
    ) {
        self.pull = RingPull(source: source, cache: cache)
        self.formatter = formatter
        self.heartbeat = heartbeat
        self.ended = ended
    }

    /// Serves `source` on `channel`'s event loop until the stream ends, and says how it ended; throws the source's
    /// failure (a `GatewayError`). The response head must have been written. Cancelling the calling task, or
    /// `stopper`, ends the stream (`.closed`).
    static func serve(
        _ source: any RingBackedSource, on channel: any Channel, cache: RingBatchCache,
        formatter: ServerSentEventWriter, heartbeat: Duration, stopper: Stopper,
        observer: (any MessageObserver)? = nil
    ) async throws -> End {
        let eventLoop = channel.eventLoop
        let ended = eventLoop.makePromise(of: End.self)
        let installed = NIOLoopBoundBox<SSERingStream?>.makeEmptyBox(eventLoop: eventLoop)
        let heartbeat = TimeAmount.nanoseconds(Int64(heartbeat / .nanoseconds(1)))
        // Runs after the head and the `retry:` line the task wrote: the writer hands them to this loop before its
        // write returns, so they come first.
        eventLoop.execute {
            let operations = channel.pipeline.syncOperations
            guard channel.isActive, let encoder = try? operations.context(handlerType: HTTPResponseEncoder.self)
            else {
                ended.succeed(.closed)
                return
            }
            let stream = SSERingStream(
                source: source, cache: cache, formatter: formatter, heartbeat: heartbeat, ended: ended)
            stream.pull.observer = observer
            do {
                try operations.addHandler(stream, position: .after(encoder.handler))
            } catch {
                ended.succeed(.closed)
                return
            }
            installed.value = stream
            active.add(1, ordering: .relaxed)
            stream.start()
            stopper.onStop { eventLoop.execute { installed.value?.finish(.closed) } }
        }
        let result: Result<End, any Error>
        do {
            result = .success(
                try await withTaskCancellationHandler {
                    try await ended.futureResult.get()
                } onCancel: {
                    // Runs after the installation above: both are tasks of the same loop, in order.
                    eventLoop.execute { installed.value?.finish(.closed) }
                })
        } catch {
            result = .failure(error)
        }
        // The stream leaves the pipeline before the task writes again.
        try? await eventLoop.submit {
            if let stream = installed.value {
                installed.value = nil
                channel.pipeline.syncOperations.removeHandler(stream, promise: nil)
            }
        }.get()
        return try result.get()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        wake = { eventLoop.execute { loopBound.value.pump() } }
    }

    private func start() {
        guard let context else { return }
        lastWrite = .now()
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let period = TimeAmount.nanoseconds(max(heartbeat.nanoseconds / 2, 10_000_000))
        heartbeatTask = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            loopBound.value.heartbeatTick()
        }
        pump()
    }

    /// Writes what the ring has, as far as the socket takes it; then waits for the socket or for the ring.
    func pump() {
        guard !finished, let context, let wake else { return }
        let outcome = pull.pump(
            channel: context.channel, wake: wake, write: { write($0, context: context, promise: $1) },
            flush: { context.flush() })
        if outcome.wrote { lastWrite = .now() }
        switch outcome.ending {
        case .success(let end): finish(end)
        case .failure(let error): finish(throwing: error)
        case nil: break
        }
    }

    private func write(_ events: ByteBuffer, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        context.write(wrapOutboundOut(.body(.byteBuffer(events))), promise: promise)
    }

    private func heartbeatTick() {
        guard !finished, let context, NIODeadline.now() - lastWrite >= heartbeat else { return }
        var buffer = context.channel.allocator.buffer(capacity: 3)
        formatter.heartbeat(into: &buffer)
        write(buffer, context: context, promise: nil)
        context.flush()
        lastWrite = .now()
    }

    /// Ends the stream (once): no more events from it.
    func finish(_ end: End) {
        guard stop() else { return }
        ended.succeed(end)
    }

    private func finish(throwing error: any Error) {
        guard stop() else { return }
        ended.fail(error)
    }

    private func stop() -> Bool {
        guard !finished else { return false }
        finished = true
        Self.active.subtract(1, ordering: .relaxed)
        heartbeatTask?.cancel()
        heartbeatTask = nil
        pull.stop()
        return true
    }

    // MARK: Channel events

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        context.fireChannelWritabilityChanged()
        if context.channel.isWritable { pump() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.closed)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish(.closed)
        self.context = nil
        wake = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { finish(.closed) }
        context.write(data, promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        finish(.closed)
        context.close(mode: mode, promise: promise)
    }
}
