import NIOConcurrencyHelpers
import NIOCore

/// A subscription's buffer: filled on the client's event loop, read from any task.
final class MQTTSubscriptionBuffer: Sendable {
    typealias Waiter = CheckedContinuation<Result<MQTTMessage?, MQTT5ClientError>, Never>
    typealias State = MQTTSubscriptionBufferState<Waiter>

    private let state: NIOLockedValueBox<State>
    private let nextWaiterID = NIOLockedValueBox<UInt64>(0)
    /// Called (from the reading task) with each delivery the consumer takes.
    private let taken: @Sendable (MQTTSessionStateMachine.DeliveryID) -> Void

    init(
        capacity: Int, hardLimit: Int, acknowledgesOnRead: Bool = true,
        taken: @escaping @Sendable (MQTTSessionStateMachine.DeliveryID) -> Void
    ) {
        state = NIOLockedValueBox(
            State(capacity: capacity, hardLimit: hardLimit, acknowledgesOnRead: acknowledgesOnRead))
        self.taken = taken
    }

    var droppedCount: Int { state.withLockedValue { $0.droppedCount } }
    var bufferedCount: Int { state.withLockedValue { $0.entries.count } }

    /// Buffers a message. A waiting reader is woken by `wakeReaders` after the batch, so that a reader that keeps
    /// up wakes once per batch rather than once per message; but at once (handed the oldest message) when QoS 0
    /// messages fill half the buffer, or when more QoS 1 and 2 messages wait than the client's Receive Maximum (a
    /// server that sends more than it may could otherwise fill the rest of the buffer within one read).
    /// Returns the deliveries taken at once: dropped, or handed over.
    func pushDeferringWake(
        _ message: MQTTMessage, delivery: MQTTSessionStateMachine.DeliveryID?,
        sessionStart: MQTTSessionStateMachine.DeliveryID
    ) -> (dropped: MQTTSessionStateMachine.DeliveryID?, handedOver: MQTTSessionStateMachine.DeliveryID?) {
        let entry = State.Entry(message: message, delivery: delivery)
        let (outcome, handOver) = state.withLockedValue {
            state -> (State.PushOutcome, (Waiter, State.Entry, MQTTSessionStateMachine.DeliveryID?)?) in
            let outcome = state.pushDeferringHandOver(entry, sessionStart: sessionStart)
            let threshold = delivery == nil ? state.capacity / 2 : state.hardLimit - state.capacity
            guard state.entries.count >= threshold, let (waiter, oldest) = state.handOver() else {
                return (outcome, nil)
            }
            return (outcome, (waiter, oldest, state.read(oldest.delivery)))
        }
        var dropped: MQTTSessionStateMachine.DeliveryID?
        if case .dropped(let delivery) = outcome { dropped = delivery }
        guard let (waiter, oldest, released) = handOver else { return (dropped, nil) }
        waiter.resume(returning: .success(oldest.message))
        return (dropped, released)
    }

    /// Hands the oldest messages to the readers waiting, if any; returns their deliveries, now taken.
    func wakeReaders() -> [MQTTSessionStateMachine.DeliveryID] {
        var taken: [MQTTSessionStateMachine.DeliveryID] = []
        while let (waiter, entry, released) = state.withLockedValue({ state in
            state.handOver().map { ($0.0, $0.1, state.read($0.1.delivery)) }
        }) {
            waiter.resume(returning: .success(entry.message))
            if let released { taken.append(released) }
        }
        return taken
    }

    /// Releases the deliveries of every message read so far (a subscription acknowledged explicitly).
    func acknowledgeRead() {
        for delivery in state.withLockedValue({ $0.acknowledgeRead() }) { taken(delivery) }
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
        let outcome = state.withLockedValue { state in
            let outcome = state.next()
            if case .message(let entry) = outcome { return (outcome, state.read(entry.delivery)) }
            return (outcome, nil)
        }
        switch outcome.0 {
        case .message(let entry):
            if let released = outcome.1 { taken(released) }
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
                var released: MQTTSessionStateMachine.DeliveryID?
                let immediate: Result<MQTTMessage?, MQTT5ClientError>? = state.withLockedValue { state in
                    if Task.isCancelled { return .success(nil) }
                    switch state.next() {
                    case .message(let entry):
                        released = state.read(entry.delivery)
                        return .success(entry.message)
                    case .ended(.finished): return .success(nil)
                    case .ended(.failed(let error)): return .failure(error)
                    case .wait:
                        state.park(continuation, id: id)
                        return nil
                    }
                }
                if let released { taken(released) }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            state.withLockedValue { $0.unpark(id: id) }?.resume(returning: .success(nil))
        }
        return try result.get()
    }
}
