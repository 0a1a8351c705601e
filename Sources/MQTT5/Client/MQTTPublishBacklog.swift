import DequeModule
import NIOConcurrencyHelpers

/// The bound on publishes handed over with `enqueuePublish`, whose callers do not wait for the outcome: at most
/// `limit` of them are outstanding (queued, unwritten or unacknowledged); a caller beyond that waits until no more
/// than half the limit are (a low-water mark: a producer then goes on for half the limit before it waits again,
/// instead of waking for every completion). Their failures are counted, since nobody waits to be told.
final class MQTTPublishBacklog: Sendable {
    private typealias Waiter = CheckedContinuation<Result<Void, MQTT5ClientError>, Never>

    private struct State {
        var outstanding = 0
        var failed = 0
        var waiters: Deque<(id: UInt64, waiter: Waiter)> = []
        var nextWaiterID: UInt64 = 0
        /// Set once the client stops: nothing more is accepted.
        var closed: MQTT5ClientError?
    }

    let limit: Int
    private let state = NIOLockedValueBox(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Enqueued publishes that failed after they were accepted.
    var failedCount: Int { state.withLockedValue { $0.failed } }

    /// Takes a place for one publish; waits while `limit` are outstanding. Throws when the client stops, or the
    /// task is cancelled while waiting.
    func acquire() async throws(MQTT5ClientError) {
        let immediate: Result<Void, MQTT5ClientError>? = state.withLockedValue { state in
            if let closed = state.closed { return .failure(closed) }
            guard state.waiters.isEmpty, state.outstanding < limit else { return nil }
            state.outstanding += 1
            return .success(())
        }
        if let immediate { return try immediate.get() }
        try await waitForRoom()
    }

    private func waitForRoom() async throws(MQTT5ClientError) {
        let id = state.withLockedValue { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let cancelled = MQTT5ClientError(.cancelled, "the publishing task was cancelled")
        let result: Result<Void, MQTT5ClientError> = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: Waiter) in
                // Decided under the lock, so that room, the end or a cancellation finds the caller parked or is
                // seen here.
                let immediate: Result<Void, MQTT5ClientError>? = state.withLockedValue { state in
                    if let closed = state.closed { return .failure(closed) }
                    if Task.isCancelled { return .failure(cancelled) }
                    if state.waiters.isEmpty && state.outstanding < limit {
                        state.outstanding += 1
                        return .success(())
                    }
                    state.waiters.append((id, continuation))
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLockedValue { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).waiter
            }
            waiter?.resume(returning: .failure(cancelled))
        }
        try result.get()
    }

    /// `completed` accepted publishes completed, `failed` of them with a failure. Once no more than half the limit
    /// are outstanding, the waiting callers get places, longest waiting first.
    func release(completed: Int, failed: Int = 0) {
        guard completed > 0 else { return }
        let waiters = state.withLockedValue { state -> [Waiter] in
            state.failed += failed
            state.outstanding -= completed
            guard state.outstanding <= limit / 2 else { return [] }
            var waiters: [Waiter] = []
            while state.outstanding < limit, let (_, waiter) = state.waiters.popFirst() {
                state.outstanding += 1
                waiters.append(waiter)
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: .success(())) }
    }

    /// The client stopped: waiting callers and later ones fail with `error`.
    func close(_ error: MQTT5ClientError) {
        let waiters = state.withLockedValue { state in
            state.closed = state.closed ?? error
            defer { state.waiters = [] }
            return state.waiters.map(\.waiter)
        }
        for waiter in waiters { waiter.resume(returning: .failure(error)) }
    }
}
