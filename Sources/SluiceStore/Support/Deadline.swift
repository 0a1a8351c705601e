import Synchronization

/// Runs `operation` and returns its result, or throws `timeoutError()` once `limit` has passed, whichever comes
/// first, without waiting for the operation to end. A structured race (a task group) waits for every child, so an
/// operation that does not end when cancelled (a connection pool's wait for a connection to a server that went
/// away) would hold its caller past the limit; here the operation runs in a task of its own, which is cancelled
/// and left to finish by itself. Cancelling the caller cancels the operation and throws `CancellationError`.
func withDeadline<T: Sendable>(
    _ limit: Duration, timeoutError: @escaping @Sendable () -> any Error,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = DeadlineRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.start(continuation)
            let work = Task {
                do {
                    race.finish(.success(try await operation()))
                } catch {
                    race.finish(.failure(error))
                }
            }
            let timer = Task {
                try? await Task.sleep(for: limit)
                if !Task.isCancelled { race.finish(.failure(timeoutError())) }
            }
            race.attach(work: work, timer: timer)
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The continuation of one ``withDeadline(_:timeoutError:_:)`` call, resumed once, by whichever comes first.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var outcome: Result<T, any Error>?
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
    }

    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<T, any Error>) {
        let early = state.withLock { state -> Result<T, any Error>? in
            guard let outcome = state.outcome else {
                state.continuation = continuation
                return nil
            }
            return outcome
        }
        // Cancelled before the continuation existed.
        if let early { continuation.resume(with: early) }
    }

    func attach(work: Task<Void, Never>, timer: Task<Void, Never>) {
        let done = state.withLock { state -> Bool in
            state.work = work
            state.timer = timer
            return state.outcome != nil
        }
        if done {
            work.cancel()
            timer.cancel()
        }
    }

    func finish(_ outcome: Result<T, any Error>) {
        let (continuation, work, timer) = state.withLock { state in
            guard state.outcome == nil else {
                return (CheckedContinuation<T, any Error>?.none, Task<Void, Never>?.none, Task<Void, Never>?.none)
            }
            state.outcome = outcome
            defer { state.continuation = nil }
            return (state.continuation, state.work, state.timer)
        }
        work?.cancel()
        timer?.cancel()
        continuation?.resume(with: outcome)
    }
}
