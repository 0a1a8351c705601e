import NIOConcurrencyHelpers
import NIOCore

/// One `subscribe` call's subscriptions, and the messages they receive: an `AsyncSequence` with a bounded buffer.
///
/// Reading is what acknowledges: the client sends the PUBACK or PUBREC of a QoS 1 or 2 message once every
/// subscription it went to has handed it to its consumer, so a consumer that falls behind makes the server stop
/// at the client's Receive Maximum instead of filling memory. QoS 0 messages that arrive while the buffer is full
/// are dropped and counted in `droppedMessageCount`. A subscription made with `acknowledgement: .explicit` holds the
/// acknowledgements of what it has read until `acknowledgeRead()`, for a consumer that acknowledges only what it
/// has passed on (at-least-once); with a persistent session, what it read and did not acknowledge comes again.
///
/// The sequence ends after `unsubscribe()` and when the client stops (messages already received are read first);
/// it throws when the server refuses the subscription as it is made again after a reconnect without a session.
/// Dropping the last reference to an active subscription unsubscribes it.
public final class MQTT5Subscription: AsyncSequence, Sendable {
    public typealias Element = MQTTMessage
    public typealias Failure = MQTT5ClientError

    /// When the client acknowledges a QoS 1 or 2 message the subscription received.
    public enum Acknowledgement: Sendable, Hashable {
        /// As the consumer reads it. Default.
        case onRead
        /// When the consumer calls `acknowledgeRead()`, for every message it has read until then.
        case explicit
    }

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

    /// Acknowledges every message read from this subscription so far (with `acknowledgement: .explicit`; otherwise
    /// they are acknowledged already). The acknowledgements go out in the order the messages arrived, as MQTT
    /// requires, so they wait for earlier messages other subscriptions of the client have not taken yet.
    public func acknowledgeRead() {
        buffer.acknowledgeRead()
    }

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
