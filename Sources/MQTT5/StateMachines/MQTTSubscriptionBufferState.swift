import DequeModule

/// The messages one subscription holds for its consumer, and the consumers waiting for them, as a pure value.
///
/// Bounded: a QoS 0 message that arrives while `capacity` messages wait is dropped and counted. QoS 1 and 2
/// messages are not bounded by `capacity` but by the client's Receive Maximum, since their acknowledgement waits
/// until the consumer takes them (and the client stops reading while more wait than it announced). A QoS 1 or 2
/// message of the current session is never dropped: its acknowledgement would tell the server it was delivered.
/// `hardLimit` (`capacity` plus the Receive Maximum) bounds only a buffer that still holds messages of a lost
/// session while the next one brings more: such a message is dropped and acknowledged, so that repeated session
/// losses cannot grow the buffer without end.
///
/// With `acknowledgesOnRead` false, a delivery the consumer takes is not released at once but held until the
/// consumer says it is done with everything it has read (`acknowledgeRead`): an at-least-once consumer acknowledges
/// only what it has passed on.
struct MQTTSubscriptionBufferState<Waiter> {
    typealias DeliveryID = MQTTSessionStateMachine.DeliveryID

    struct Entry: Sendable {
        var message: MQTTMessage
        /// The session's delivery, reported as taken when the consumer takes the message; nil for QoS 0.
        var delivery: DeliveryID?
    }

    /// How the stream ended: nil while open.
    enum End: Sendable {
        case finished
        case failed(MQTT5ClientError)
    }

    enum PushOutcome {
        /// Queued for a later `next`.
        case buffered
        /// Handed straight to a waiting consumer: the delivery (if any) is taken.
        case handedOver(Waiter, Entry)
        /// Not kept: the buffer is full (or the stream has ended). The delivery (if any) counts as taken.
        case dropped(DeliveryID?)
    }

    enum NextOutcome {
        case message(Entry)
        case ended(End)
        /// Nothing yet: park the consumer with `park`.
        case wait
    }

    let capacity: Int
    let hardLimit: Int
    /// Whether a delivery is released when its message is read (else by `acknowledgeRead`).
    let acknowledgesOnRead: Bool
    /// Deliveries read but not yet acknowledged (only without `acknowledgesOnRead`), in reading order.
    private(set) var unacknowledged: [DeliveryID] = []
    private(set) var entries: Deque<Entry> = []
    private(set) var waiters: Deque<(id: UInt64, waiter: Waiter)> = []
    private(set) var droppedCount = 0
    private(set) var end: End?

    init(capacity: Int, hardLimit: Int, acknowledgesOnRead: Bool = true) {
        self.capacity = capacity
        self.hardLimit = max(hardLimit, capacity)
        self.acknowledgesOnRead = acknowledgesOnRead
    }

    /// The consumer took a message with `delivery`: returns the delivery when it is released now, nil when it waits
    /// for `acknowledgeRead`.
    mutating func read(_ delivery: DeliveryID?) -> DeliveryID? {
        guard let delivery else { return nil }
        if acknowledgesOnRead { return delivery }
        unacknowledged.append(delivery)
        return nil
    }

    /// The consumer is done with every message it has read: their deliveries, released now.
    mutating func acknowledgeRead() -> [DeliveryID] {
        defer { unacknowledged = [] }
        return unacknowledged
    }

    /// Adds a message; `sessionStart` is the first delivery of the current session (deliveries before it belong
    /// to a lost one).
    mutating func push(_ entry: Entry, sessionStart: DeliveryID = 0) -> PushOutcome {
        guard end == nil else { return .dropped(entry.delivery) }
        if let (_, waiter) = waiters.popFirst() {
            return .handedOver(waiter, entry)
        }
        return buffer(entry, sessionStart: sessionStart)
    }

    /// Like `push`, but a waiting reader is not handed the entry now: `handOver` does that once a whole batch is
    /// in, so that a reader that keeps up wakes once per batch rather than once per message.
    mutating func pushDeferringHandOver(_ entry: Entry, sessionStart: DeliveryID = 0) -> PushOutcome {
        guard end == nil else { return .dropped(entry.delivery) }
        return buffer(entry, sessionStart: sessionStart)
    }

    private mutating func buffer(_ entry: Entry, sessionStart: DeliveryID) -> PushOutcome {
        let full =
            entry.delivery == nil
            ? entries.count >= capacity
            : entries.count >= hardLimit && holdsLostSession(sessionStart: sessionStart)
        guard !full else {
            droppedCount += 1
            return .dropped(entry.delivery)
        }
        entries.append(entry)
        return .buffered
    }

    /// Whether a QoS 1 or 2 message of a lost session still waits (only looked at once the hard limit is reached).
    /// Deliveries are numbered in arrival order and entries leave from the front, so the oldest QoS 1 or 2 entry
    /// tells; the QoS 0 entries before it are at most `capacity`.
    private func holdsLostSession(sessionStart: DeliveryID) -> Bool {
        entries.first { $0.delivery != nil }?.delivery.map { $0 < sessionStart } ?? false
    }

    /// The longest waiting reader with the oldest entry, when there are both.
    mutating func handOver() -> (Waiter, Entry)? {
        guard !waiters.isEmpty, !entries.isEmpty else { return nil }
        return (waiters.removeFirst().waiter, entries.removeFirst())
    }

    mutating func next() -> NextOutcome {
        if let entry = entries.popFirst() { return .message(entry) }
        if let end { return .ended(end) }
        return .wait
    }

    mutating func park(_ waiter: Waiter, id: UInt64) {
        waiters.append((id, waiter))
    }

    /// Removes a waiting consumer (it was cancelled); nil if it was already resumed.
    mutating func unpark(id: UInt64) -> Waiter? {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
        return waiters.remove(at: index).waiter
    }

    /// Ends the stream. With `dropMessages`, waiting messages are discarded (an unsubscribe), and so are those read
    /// but not acknowledged (nobody is left to acknowledge them); otherwise consumers read them before the end.
    /// Returns the consumers to resume with the end, and the deliveries discarded.
    mutating func finish(_ end: End, dropMessages: Bool) -> (waiters: [Waiter], discarded: [DeliveryID]) {
        guard self.end == nil else { return ([], []) }
        self.end = end
        var discarded: [DeliveryID] = []
        if dropMessages {
            discarded = acknowledgeRead() + entries.compactMap(\.delivery)
            entries = []
        }
        let resumed = waiters.map(\.waiter)
        waiters = []
        return (resumed, discarded)
    }
}

extension MQTTSubscriptionBufferState: Sendable where Waiter: Sendable {}
