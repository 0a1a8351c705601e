import NIOCore
import NIOWebSocket
import SluiceCore
import SluiceEndpoints
import Synchronization

/// The subscriber side of one WebSocket connection whose messages come from a ring (a shared tail, the embedded
/// log), served by the connection's event loop with no task of its own.
///
/// It pulls as ``RingPull`` describes (the socket draining is `channelWritabilityChanged`), with frames from a
/// ``RingBatchCache`` of WebSocket frames.
///
/// The frames are written as bytes from the frame encoder's context, so they go straight to the socket. The stream
/// sits right after the encoder, where every frame the WebSocket handler writes passes: a close frame (or a close
/// of the output) ends the stream before it goes on, so no data frame ever follows a close. Control frames can
/// only come between whole batches.
final class WebSocketRingStream: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    typealias End = RingStreamEnd

    /// Streams being served now, gateway-wide (which path a subscriber took, for tests and diagnostics).
    static let active = Atomic<Int>(0)

    private var pull: RingPull
    /// The frame encoder's context: bytes written through it go to the socket.
    private let encoder: ChannelHandlerContext
    private let ended: EventLoopPromise<End>
    private var channel: (any Channel)?
    /// What the ring calls on an append this stream watches for: a pump on the stream's loop.
    private var wake: (@Sendable () -> Void)?
    private var finished = false

    private init(
        source: any RingBackedSource, cache: RingBatchCache, encoder: ChannelHandlerContext,
        ended: EventLoopPromise<End>
    ) {
        self.pull = RingPull(source: source, cache: cache)
        self.encoder = encoder
        self.ended = ended
    }

    /// Serves `source` on `channel`'s event loop until the stream ends, and says how it ended; throws the source's
    /// failure (a `GatewayError`). Cancelling the calling task ends the stream (`.closed`).
    static func serve(
        _ source: any RingBackedSource, on channel: any Channel, cache: RingBatchCache,
        observer: (any MessageObserver)? = nil
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
            stream.pull.observer = observer
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
        let encoder = encoder
        let outcome = pull.pump(
            channel: channel, wake: wake, write: { encoder.write(NIOAny($0), promise: $1) },
            flush: { encoder.flush() })
        switch outcome.ending {
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
        pull.stop()
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
