import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceEndpoints
import Synchronization

/// The data path of one SSE stream whose messages come from a ring (a shared tail, the embedded log), served by the
/// connection's event loop with no task of its own.
///
/// It pulls like ``WebSocketRingStream``: while the socket can take more it writes what the ring has from the
/// source's place, else it waits for the socket to drain (`channelWritabilityChanged`); when the ring has nothing
/// new it watches it for the next append. Events come from an ``SSERingBatchCache``, so streams at the same place
/// write one shared buffer per batch; heartbeats come from a repeating timer on the same loop.
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

    /// Why a stream stopped serving the connection (a failure of its source fails the stream instead).
    enum End: Sendable {
        /// The client left, the stream was stopped (drain, API removed, departure), the task was cancelled, or the
        /// source was closed.
        case closed
        /// The source continues elsewhere: serve it with `next(maxCount:until:)`.
        case leftRing
    }

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

    static let batchSize = 256
    /// Content bytes a batch stops growing at. Default: 1 MiB.
    static let batchBytes = 1 << 20

    /// Streams being served now, gateway-wide (which path a subscriber took, for tests and diagnostics).
    static let active = Atomic<Int>(0)

    private let source: any RingBackedSource
    private let ring: InMemoryTopic
    private let cache: SSERingBatchCache
    private let heartbeat: TimeAmount
    private let ended: EventLoopPromise<End>
    private let watchID: UInt64
    private var context: ChannelHandlerContext?
    /// What the ring calls on an append this stream watches for: a pump on the stream's loop.
    private var wake: (@Sendable () -> Void)?
    private var heartbeatTask: RepeatedTask?
    private var lastWrite = NIODeadline.now()
    private var finished = false

    private init(
        source: any RingBackedSource, cache: SSERingBatchCache, heartbeat: TimeAmount, ended: EventLoopPromise<End>
    ) {
        self.source = source
        self.ring = source.ring
        self.cache = cache
        self.heartbeat = heartbeat
        self.ended = ended
        self.watchID = source.ring.makeWaitID()
    }

    /// Serves `source` on `channel`'s event loop until the stream ends, and says how it ended; throws the source's
    /// failure (a `GatewayError`). The response head must have been written. Cancelling the calling task, or
    /// `stopper`, ends the stream (`.closed`).
    static func serve(
        _ source: any RingBackedSource, on channel: any Channel, cache: SSERingBatchCache, heartbeat: Duration,
        stopper: Stopper
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
            let stream = SSERingStream(source: source, cache: cache, heartbeat: heartbeat, ended: ended)
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
        let channel = context.channel
        // The last batch is held back so that it alone carries a promise when the source wants to know.
        var unwritten: SSERingBatchCache.Batch?
        // Why the stream ends, once what it read is written.
        var ending: Result<End, GatewayError>?
        reading: while channel.isWritable {
            switch source.ringPosition() {
            case .leaveRing:
                ending = .success(.leftRing)
                break reading
            case .ended(let failure):
                ending = failure.map { .failure($0) } ?? .success(.closed)
                break reading
            case .at(let offset):
                let batch: SSERingBatchCache.Batch
                if let shared = cache.batch(of: ring, from: offset) {
                    batch = shared
                } else {
                    var (messages, next) = ring.read(from: offset, maxCount: Self.batchSize)
                    if messages.isEmpty {
                        // Nothing new: be told of the next append (unless one slipped in since the read), then
                        // look again, as the source may have ended in between.
                        if !ring.watch(from: offset, id: watchID, wake) { continue reading }
                        if case .at = source.ringPosition() { break reading }
                        ring.unwatch(id: watchID)
                        continue reading
                    }
                    // The ring dropped the place between the look and the read: ask the source again.
                    if next - Int64(messages.count) != offset { continue reading }
                    // At most about `batchBytes` per batch (and at least one message).
                    var bytes = 0
                    if let cut = messages.firstIndex(where: {
                        bytes += $0.content.readableBytes
                        return bytes > Self.batchBytes
                    }), cut > 0 {
                        next -= Int64(messages.count - cut)
                        messages.removeSubrange(cut...)
                    }
                    batch = cache.encode(messages, of: ring, from: offset, allocator: channel.allocator)
                }
                if let previous = unwritten { write(previous.events, context: context, promise: nil) }
                unwritten = batch
                source.handedOut(upTo: batch.end, lastID: batch.lastID)
            }
        }
        if let last = unwritten {
            if source.reportsWrites {
                let promise = context.eventLoop.makePromise(of: Void.self)
                write(last.events, context: context, promise: promise)
                let source = source
                let lastID = last.lastID
                promise.futureResult.whenSuccess { source.written(through: lastID) }
            } else {
                write(last.events, context: context, promise: nil)
            }
            context.flush()
            lastWrite = .now()
        }
        switch ending {
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
        cache.formatter.heartbeat(into: &buffer)
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
        ring.unwatch(id: watchID)
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
