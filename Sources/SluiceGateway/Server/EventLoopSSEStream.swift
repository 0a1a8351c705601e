import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceEndpoints
import SluiceEntrypoints

/// One SSE stream from the embedded log, served by its connection's event loop with no task of its own.
///
/// It keeps an offset and pulls: when the socket can take more it writes what the log has, else it waits for the
/// socket to drain (`channelWritabilityChanged`); when the log has nothing new it asks the topic to be told of the
/// next append. So a slow client slows only its own reads and costs the gateway no buffer, and an idle one costs a
/// few hundred bytes besides its connection. Heartbeats come from a repeating timer on the same loop.
final class EventLoopSSEStream {
    static let batchSize = 256

    private let topic: InMemoryTopic
    private let cache: RingBatchCache
    private let formatter: ServerSentEventWriter
    private let heartbeat: TimeAmount
    private let context: ChannelHandlerContext
    private var offset: Int64
    private var lastWrite = NIODeadline.now()
    private var watchID: UInt64
    private var heartbeatTask: RepeatedTask?
    private var registration: StreamRegistration?
    private var watching = false
    private(set) var finished = false
    private var buffer: ByteBuffer
    private let version: HTTPVersion
    /// Headers the response carries besides the stream's own (rate limits).
    private let extraHeaders: HTTPHeaders
    /// Messages and bytes written so far (metrics, access log).
    private(set) var messagesSent = 0
    private(set) var bytesSent = 0
    /// Where its messages and bytes are counted as they are written.
    var series: RequestSeries?
    /// Told once, when the stream is released.
    var onFinish: ((EventLoopSSEStream) -> Void)?

    init(
        topic: InMemoryTopic, offset: Int64, entrypoint: SSEEntrypoint, version: HTTPVersion,
        context: ChannelHandlerContext, extraHeaders: HTTPHeaders = HTTPHeaders()
    ) {
        self.version = version
        self.extraHeaders = extraHeaders
        self.topic = topic
        self.offset = offset
        // The entrypoint's batches: the same events its task and ring streams write, encoded once for all.
        self.cache = entrypoint.batches
        self.formatter = entrypoint.formatter
        self.heartbeat = .milliseconds(entrypoint.configuration.heartbeatIntervalInMs)
        self.context = context
        self.watchID = topic.makeWaitID()
        self.buffer = context.channel.allocator.buffer(capacity: 0)
    }

    /// Writes the response head and the `retry:` line, then starts streaming.
    func start(registration: StreamRegistration) {
        self.registration = registration
        var headers: HTTPHeaders = [
            "content-type": "text/event-stream;charset=UTF-8", "connection": "keep-alive", "cache-control": "no-cache",
            "x-accel-buffering": "no",
        ]
        headers.add(contentsOf: extraHeaders)
        context.write(
            NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: .ok, headers: headers))),
            promise: nil)
        buffer.clear()
        // Clients reconnect after a random 1–30 s so that a gateway restart does not bring them all back at once.
        formatter.retry(milliseconds: Int.random(in: 1000..<30_000), into: &buffer)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))), promise: nil)
        lastWrite = .now()
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let period = TimeAmount.nanoseconds(max(heartbeat.nanoseconds / 2, 10_000_000))
        heartbeatTask = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            loopBound.value.heartbeatTick()
        }
        pump()
    }

    /// Writes what the log has, as far as the socket takes it; then waits for the socket or for the log.
    func pump() {
        guard !finished else { return }
        var wrote = false
        while context.channel.isWritable {
            if let shared = cache.batch(of: topic, from: offset) {
                // Another stream at the same place encoded it already.
                context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(shared.bytes))), promise: nil)
                let count = Int(max(shared.end - offset, 0))
                messagesSent += count
                bytesSent += shared.bytes.readableBytes
                series?.count(messages: count, bytes: shared.bytes.readableBytes)
                offset = shared.end
                wrote = true
                continue
            }
            let (messages, next) = topic.read(from: offset, maxCount: Self.batchSize)
            if messages.isEmpty {
                // Nothing new: be told of the next append (unless one slipped in since the read).
                offset = next
                let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
                let eventLoop = context.eventLoop
                watching = topic.watch(from: next, id: watchID) {
                    eventLoop.execute { loopBound.value.wake() }
                }
                if watching { break } else { continue }
            }
            // From where the log still had messages (it may have dropped the stream's place meanwhile).
            let batch = cache.encode(
                messages, of: topic, from: next - Int64(messages.count), allocator: context.channel.allocator)
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(batch.bytes))), promise: nil)
            messagesSent += messages.count
            bytesSent += batch.bytes.readableBytes
            series?.count(messages: messages.count, bytes: batch.bytes.readableBytes)
            offset = next
            wrote = true
        }
        if wrote { lastWrite = .now() }
        context.flush()
    }

    private func wake() {
        watching = false
        pump()
    }

    private func heartbeatTick() {
        guard !finished, NIODeadline.now() - lastWrite >= heartbeat else { return }
        buffer.clear()
        formatter.heartbeat(into: &buffer)
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))), promise: nil)
        lastWrite = .now()
    }

    /// Ends the stream: `event: goaway` when the gateway drains or the API goes, `event: error` naming the
    /// error's key when the stream's credential no longer holds, then the end of the response and of the
    /// connection.
    func end(_ reason: StreamEnding?) {
        guard !finished else { return }
        if let reason {
            buffer.clear()
            if case .accessEnded = reason {
                formatter.error(id: UUID().uuidString, message: reason.reason, into: &buffer)
            } else {
                formatter.goaway(into: &buffer)
            }
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
            channel.close(promise: nil)
        }
        cleanUp()
    }

    /// Releases the stream's timer, watch and registration (the connection closed, or the stream ended).
    func cleanUp() {
        guard !finished else { return }
        finished = true
        heartbeatTask?.cancel()
        heartbeatTask = nil
        topic.unwatch(id: watchID)
        registration?.cancel()
        registration = nil
        let onFinish = self.onFinish
        self.onFinish = nil
        onFinish?(self)
    }
}
