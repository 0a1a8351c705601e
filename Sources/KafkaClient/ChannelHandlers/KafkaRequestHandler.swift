import DequeModule
import KafkaWire
import NIOCore

/// One request on its way to a broker: its whole frame, and where the answer goes.
struct KafkaOutboundRequest {
    /// The frame, in one or more buffers written back to back (a Produce request's record batches go out from
    /// the producer's own buffers).
    var frame: [ByteBuffer]
    var correlationID: Int32
    /// Requests the broker does not answer (Produce with acks=0) complete as soon as they are written.
    var expectsResponse: Bool
    var promise: EventLoopPromise<ByteBuffer>
    var deadline: NIODeadline
    var label: String
}

/// Matches responses to pipelined requests by correlation id.
///
/// A broker answers the requests of one connection in order, so the in-flight requests form a queue and every
/// response must carry the id at its head. A response that does not, a request that runs past its deadline, or the
/// connection closing fails every request still waiting and closes the channel: nothing after that point can be
/// trusted to belong to the right request.
final class KafkaRequestHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = KafkaOutboundRequest
    typealias OutboundOut = ByteBuffer

    private var inFlight = Deque<KafkaOutboundRequest>()
    private var deadlineTimer: Scheduled<Void>?
    private var failure: KafkaError?
    private let brokerLabel: String

    init(brokerLabel: String) {
        self.brokerLabel = brokerLabel
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let failure {
            request.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        if request.expectsResponse {
            // The queue keeps what matches the answer, not the frame: the frame's buffers go as soon as written.
            var waiting = request
            waiting.frame = []
            inFlight.append(waiting)
            scheduleDeadlineCheck(context: context)
            write(request.frame, context: context, promise: promise)
        } else {
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenComplete { result in
                switch result {
                case .success: request.promise.succeed(ByteBuffer())
                case .failure(let error): request.promise.fail(error)
                }
            }
            written.futureResult.cascade(to: promise)
            write(request.frame, context: context, promise: written)
        }
    }

    /// Writes the segments of one frame; the promise completes with the last.
    private func write(_ segments: [ByteBuffer], context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        for segment in segments.dropLast() {
            context.write(wrapOutboundOut(segment), promise: nil)
        }
        context.write(wrapOutboundOut(segments.last ?? ByteBuffer()), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        guard let correlationID = frame.readInteger(endianness: .big, as: Int32.self) else {
            failAll(context: context, KafkaError(.protocolViolation, "\(brokerLabel): response frame without header"))
            return
        }
        guard let head = inFlight.first, head.correlationID == correlationID else {
            failAll(
                context: context,
                KafkaError(
                    .protocolViolation,
                    "\(brokerLabel): response with correlation id \(correlationID) matches no waiting request"
                )
            )
            return
        }
        inFlight.removeFirst()
        head.promise.succeed(frame)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(context: context, KafkaError(.connectionFailed, "\(brokerLabel): connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let kafkaError: KafkaError
        if let wireError = error as? KafkaWireError {
            kafkaError = KafkaError(.protocolViolation, "\(brokerLabel): \(wireError)")
        } else {
            kafkaError = KafkaError(.connectionFailed, "\(brokerLabel): \(error)")
        }
        failAll(context: context, kafkaError)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadlineTimer?.cancel()
        failAll(context: context, KafkaError(.connectionFailed, "\(brokerLabel): connection closed"), close: false)
    }

    private func failAll(context: ChannelHandlerContext, _ error: KafkaError, close: Bool = true) {
        if failure == nil { failure = error }
        deadlineTimer?.cancel()
        deadlineTimer = nil
        let waiting = inFlight
        inFlight.removeAll()
        for request in waiting {
            request.promise.fail(error)
        }
        if close {
            context.close(promise: nil)
        }
    }

    /// One timer for the whole queue, aimed at the head's deadline: the head is always the oldest request.
    private func scheduleDeadlineCheck(context: ChannelHandlerContext) {
        guard deadlineTimer == nil, let head = inFlight.first else { return }
        deadlineTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: head.deadline) { [weak self] in
            guard let self else { return }
            self.deadlineTimer = nil
            self.checkDeadlines(context: context)
        }
    }

    private func checkDeadlines(context: ChannelHandlerContext) {
        guard let head = inFlight.first else { return }
        if head.deadline <= .now() {
            failAll(
                context: context,
                KafkaError(.timedOut, "\(brokerLabel): no answer to \(head.label) in time")
            )
        } else {
            scheduleDeadlineCheck(context: context)
        }
    }
}
