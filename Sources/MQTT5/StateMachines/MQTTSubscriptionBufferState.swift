import DequeModule

/// The messages one subscription holds for its consumer, and the consumers waiting for them, as a pure value.
///
/// Bounded: a QoS 0 message that arrives while `capacity` messages wait is dropped and counted. QoS 1 and 2
/// messages are not bounded by `capacity` but by the client's Receive Maximum, since their acknowledgement waits
/// until the consumer takes them; `hardLimit` (`capacity` plus the Receive Maximum) is only reached when a session
/// was lost with messages still waiting and the server sent a full window more. Such a message is dropped too, and
/// acknowledged (there is no session left whose guarantees it could keep).
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

    mutating func push(_ entry: Entry) -> PushOutcome {
        guard end == nil else { return .dropped(entry.delivery) }
        if let (_, waiter) = waiters.popFirst() {
            return .handedOver(waiter, entry)
        }
        let limit = entry.delivery == nil ? capacity : hardLimit
        guard entries.count < limit else {
            droppedCount += 1
            return .dropped(entry.delivery)
        }
        entries.append(entry)
        return .buffered
    }

    /// Like `push`, but a waiting reader is not handed the entry now: `handOver` does that once a whole batch is
    /// in, so that a reader that keeps up wakes once per batch rather than once per message.
    mutating func pushDeferringHandOver(_ entry: Entry) -> PushOutcome {
        guard end == nil else { return .dropped(entry.delivery) }
        let limit = entry.delivery == nil ? capacity : hardLimit
        guard entries.count < limit else {
            droppedCount += 1
            return .dropped(entry.delivery)
        }
        entries.append(entry)
        return .buffered
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
