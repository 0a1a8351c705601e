import NIOCore
import NIOWebSocket
import SluiceCore
import SluiceEndpoints
import Synchronization

/// The subscriber side of one WebSocket connection whose messages come from a ring (a shared tail, the embedded
/// log), served by the connection's event loop with no task of its own.
///
/// It pulls like the SSE event-loop stream: while the socket can take more it writes what the ring has from the
/// source's place, else it waits for the socket to drain (`channelWritabilityChanged`); when the ring has nothing
/// new it watches it for the next append. Frames come from a ``WebSocketBatchCache``, so streams at the same place
/// write one shared buffer per batch. So a slow client slows only itself and costs the gateway no buffer; when it
/// falls behind the ring its source decides (see ``RingPosition``).
///
/// The frames are written as bytes from the frame encoder's context, so they go straight to the socket. The stream
/// sits right after the encoder, where every frame the WebSocket handler writes passes: a close frame (or a close
/// of the output) ends the stream before it goes on, so no data frame ever follows a close. Control frames can
/// only come between whole batches.
final class WebSocketRingStream: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// Why a stream stopped serving the connection (a failure of its source fails the promise instead).
    enum End: Sendable {
        /// The connection closes (a close frame went out, the client left, the task was cancelled), or the source
        /// was closed.
        case closed
        /// The source continues elsewhere: serve it with `next(maxCount:until:)`.
        case leftRing
    }

    static let batchSize = 256
    /// Content bytes a batch stops growing at. Default: 1 MiB.
    static let batchBytes = 1 << 20

    /// Streams being served now, gateway-wide (which path a subscriber took, for tests and diagnostics).
    static let active = Atomic<Int>(0)

    private let source: any RingBackedSource
    private let ring: InMemoryTopic
    private let cache: WebSocketBatchCache
    /// The frame encoder's context: bytes written through it go to the socket.
    private let encoder: ChannelHandlerContext
    private let ended: EventLoopPromise<End>
    private let watchID: UInt64
    private var channel: (any Channel)?
    /// What the ring calls on an append this stream watches for: a pump on the stream's loop.
    private var wake: (@Sendable () -> Void)?
    private var finished = false

    private init(
        source: any RingBackedSource, cache: WebSocketBatchCache, encoder: ChannelHandlerContext,
        ended: EventLoopPromise<End>
    ) {
        self.source = source
        self.ring = source.ring
        self.cache = cache
        self.encoder = encoder
        self.ended = ended
        self.watchID = source.ring.makeWaitID()
    }

    /// Serves `source` on `channel`'s event loop until the stream ends, and says how it ended; throws the source's
    /// failure (a `GatewayError`). Cancelling the calling task ends the stream (`.closed`).
    static func serve(
        _ source: any RingBackedSource, on channel: any Channel, cache: WebSocketBatchCache
    ) async throws -> End {
        let eventLoop = channel.eventLoop
        let ended = eventLoop.makePromise(of: End.self)
        let installed = NIOLoopBoundBox<WebSocketRingStream?>.makeEmptyBox(eventLoop: eventLoop)
        eventLoop.execute {
            let operations = channel.pipeline.syncOperations
            guard channel.isActive, let encoder = try? operations.context(handlerType: WebSocketFrameEncoder.self)
            else {
                ended.succeed(.closed)
                return
            }
            let stream = WebSocketRingStream(source: source, cache: cache, encoder: encoder, ended: ended)
            do {
                try operations.addHandler(stream, position: .after(encoder.handler))
            } catch {
                ended.succeed(.closed)
                return
            }
            installed.value = stream
            active.add(1, ordering: .relaxed)
            stream.pump()
        }
        return try await withTaskCancellationHandler {
            try await ended.futureResult.get()
        } onCancel: {
            // Runs after the installation above: both are tasks of the same loop, in order.
            eventLoop.execute { installed.value?.finish(.closed) }
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        channel = context.channel
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        wake = { eventLoop.execute { loopBound.value.pump() } }
    }

    /// Writes what the ring has, as far as the socket takes it; then waits for the socket or for the ring.
    func pump() {
        guard !finished, let channel, let wake else { return }
        // The last batch is held back so that it alone carries a promise when the source wants to know.
        var unwritten: WebSocketBatchCache.Batch?
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
                let batch: WebSocketBatchCache.Batch
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
                    // At most about `batchBytes` per batch (and at least one message): a write no larger than
                    // that, and a cache that does not hold much more than the ring.
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
                if let previous = unwritten { encoder.write(NIOAny(previous.frames), promise: nil) }
                unwritten = batch
                source.handedOut(upTo: batch.end, lastID: batch.lastID)
            }
        }
        if let last = unwritten {
            if source.reportsWrites {
                let promise = channel.eventLoop.makePromise(of: Void.self)
                encoder.write(NIOAny(last.frames), promise: promise)
                let source = source
                let lastID = last.lastID
                promise.futureResult.whenSuccess { source.written(through: lastID) }
            } else {
                encoder.write(NIOAny(last.frames), promise: nil)
            }
            encoder.flush()
        }
        switch ending {
        case .success(let end): finish(end)
        case .failure(let error): finish(throwing: error)
        case nil: break
        }
    }

    /// Ends the stream (once): no more frames from it.
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
        ring.unwatch(id: watchID)
        return true
    }

    // MARK: Channel events

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // The WebSocket handler's frames (pongs, pings, a close) waiting for the socket go first: the writer
        // after this handler writes them when told, and only then does the stream fill the socket again.
        context.fireChannelWritabilityChanged()
        if context.channel.isWritable { pump() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.closed)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish(.closed)
        channel = nil
        wake = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if unwrapOutboundIn(data).opcode == .connectionClose { finish(.closed) }
        context.write(data, promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        finish(.closed)
        context.close(mode: mode, promise: promise)
    }
}
