import NIOConcurrencyHelpers
import NIOCore

/// One `subscribe` call's subscriptions, and the messages they receive: an `AsyncSequence` with a bounded buffer.
///
/// Reading is what acknowledges: the client sends the PUBACK or PUBREC of a QoS 1 or 2 message once every
/// subscription it went to has handed it to its consumer, so a consumer that falls behind makes the server stop
/// at the client's Receive Maximum instead of filling memory. QoS 0 messages that arrive while the buffer is full
/// are dropped and counted in `droppedMessageCount`.
///
/// The sequence ends after `unsubscribe()` and when the client stops (messages already received are read first);
/// it throws when the server refuses the subscription as it is made again after a reconnect without a session.
/// Dropping the last reference to an active subscription unsubscribes it.
public final class MQTT5Subscription: AsyncSequence, Sendable {
    public typealias Element = MQTTMessage
    public typealias Failure = MQTT5ClientError

    /// The Subscription Identifier, also sent to servers that support them.
    public let identifier: Int
    /// The Topic Filters and their options, as subscribed.
    public let subscriptions: [MQTTSubscription]
    /// The SUBACK's Reason Code for each filter: the QoS granted.
    public let grantedQoS: [MQTTReasonCode]
    let buffer: MQTTSubscriptionBuffer
    private let client: MQTT5Client
    private let unsubscribed = NIOLockedValueBox(false)

    init(
        identifier: Int,
        subscriptions: [MQTTSubscription],
        grantedQoS: [MQTTReasonCode],
        buffer: MQTTSubscriptionBuffer,
        client: MQTT5Client
    ) {
        self.identifier = identifier
        self.subscriptions = subscriptions
        self.grantedQoS = grantedQoS
        self.buffer = buffer
        self.client = client
    }

    deinit {
        if !unsubscribed.withLockedValue({ $0 }) {
            client.abandonSubscription(identifier)
        }
    }

    /// QoS 0 messages dropped because the buffer was full (and QoS 1 or 2 messages dropped after a lost session).
    public var droppedMessageCount: Int { buffer.droppedCount }

    /// Messages waiting to be read.
    public var bufferedMessageCount: Int { buffer.bufferedCount }

    /// Removes the subscriptions from the server (filters another subscription of this client also uses stay),
    /// ends the sequence at once and discards messages not yet read. Returns the UNSUBACK's Reason Codes, empty when
    /// nothing had to be sent.
    @discardableResult
    public func unsubscribe() async throws(MQTT5ClientError) -> [MQTTReasonCode] {
        let already = unsubscribed.withLockedValue { value in
            defer { value = true }
            return value
        }
        if already { return [] }
        return try await client.unsubscribe(identifier)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let subscription: MQTT5Subscription

        public mutating func next() async throws(MQTT5ClientError) -> MQTTMessage? {
            try await subscription.buffer.next()
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(MQTT5ClientError) -> MQTTMessage?
        {
            try await subscription.buffer.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(subscription: self)
    }
}

/// A subscription's buffer: filled on the client's event loop, read from any task.
final class MQTTSubscriptionBuffer: Sendable {
    typealias Waiter = CheckedContinuation<Result<MQTTMessage?, MQTT5ClientError>, Never>
    typealias State = MQTTSubscriptionBufferState<Waiter>

    private let state: NIOLockedValueBox<State>
    private let nextWaiterID = NIOLockedValueBox<UInt64>(0)
    /// Called (from the reading task) with each delivery the consumer takes.
    private let taken: @Sendable (MQTTSessionStateMachine.DeliveryID) -> Void

    init(capacity: Int, hardLimit: Int, taken: @escaping @Sendable (MQTTSessionStateMachine.DeliveryID) -> Void) {
        state = NIOLockedValueBox(State(capacity: capacity, hardLimit: hardLimit))
        self.taken = taken
    }

    var droppedCount: Int { state.withLockedValue { $0.droppedCount } }
    var bufferedCount: Int { state.withLockedValue { $0.entries.count } }

    /// Adds a message; returns a delivery that must count as taken at once (handed over, or dropped).
    func push(
        _ message: MQTTMessage, delivery: MQTTSessionStateMachine.DeliveryID?
    ) -> MQTTSessionStateMachine.DeliveryID? {
        let outcome = state.withLockedValue { $0.push(State.Entry(message: message, delivery: delivery)) }
        switch outcome {
        case .buffered:
            return nil
        case .handedOver(let waiter, let entry):
            waiter.resume(returning: .success(entry.message))
            return entry.delivery
        case .dropped(let delivery):
            return delivery
        }
    }

    /// Ends the stream; returns the deliveries discarded with it.
    func finish(_ end: State.End, dropMessages: Bool) -> [MQTTSessionStateMachine.DeliveryID] {
        let (waiters, discarded) = state.withLockedValue { $0.finish(end, dropMessages: dropMessages) }
        let result: Result<MQTTMessage?, MQTT5ClientError>
        switch end {
        case .finished: result = .success(nil)
        case .failed(let error): result = .failure(error)
        }
        for waiter in waiters { waiter.resume(returning: result) }
        return discarded
    }

    func next() async throws(MQTT5ClientError) -> MQTTMessage? {
        switch state.withLockedValue({ $0.next() }) {
        case .message(let entry):
            if let delivery = entry.delivery { taken(delivery) }
            return entry.message
        case .ended(.finished):
            return nil
        case .ended(.failed(let error)):
            throw error
        case .wait:
            break
        }
        // A cancelled reader stops waiting and ends its iteration; the messages stay for the next reader.
        if Task.isCancelled { return nil }
        let id = nextWaiterID.withLockedValue { id in
            id += 1
            return id
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: Waiter) in
                // Decided under the lock, so a message, the end or a cancellation either finds the reader parked or
                // is seen here.
                let immediate: Result<MQTTMessage?, MQTT5ClientError>? = state.withLockedValue { state in
                    if Task.isCancelled { return .success(nil) }
                    switch state.next() {
                    case .message(let entry):
                        if let delivery = entry.delivery { taken(delivery) }
                        return .success(entry.message)
                    case .ended(.finished): return .success(nil)
                    case .ended(.failed(let error)): return .failure(error)
                    case .wait:
                        state.park(continuation, id: id)
                        return nil
                    }
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            state.withLockedValue { $0.unpark(id: id) }?.resume(returning: .success(nil))
        }
        return try result.get()
    }
}
