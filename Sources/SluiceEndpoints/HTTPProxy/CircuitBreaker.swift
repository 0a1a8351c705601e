/// The failover's circuit breaker as a pure state machine, driven by the time of each event (Gravitee's: a window
/// of `maxFailures` calls that all failed or were slow opens it; after `openStateDuration` one trial call is let
/// through, whose outcome closes or reopens it).
public struct CircuitBreaker: Sendable, Hashable {
    public enum State: Sendable, Hashable {
        /// Calls pass; `failures` in a row have failed.
        case closed(failures: Int)
        /// Calls are refused until `until` (milliseconds on the caller's clock).
        case open(until: Int64)
        /// One trial call is under way; others are refused meanwhile.
        case halfOpen
    }

    public enum Permission: Sendable, Hashable {
        case allowed
        /// The circuit is open (or a trial call is under way).
        case refused
    }

    public private(set) var state = State.closed(failures: 0)
    public let maxFailures: Int
    public let openStateDurationMs: Int64

    public init(maxFailures: Int, openStateDurationMs: Int64) {
        self.maxFailures = max(1, maxFailures)
        self.openStateDurationMs = openStateDurationMs
    }

    /// A call wants to start at `now`.
    public mutating func callRequested(now: Int64) -> Permission {
        switch state {
        case .closed: return .allowed
        case .open(let until) where now >= until:
            state = .halfOpen
            return .allowed
        case .open, .halfOpen: return .refused
        }
    }

    public mutating func callSucceeded() {
        state = .closed(failures: 0)
    }

    /// A call ended without an outcome (its client left): a trial call under way is given back, so the next
    /// request is the trial.
    public mutating func callAbandoned() {
        if state == .halfOpen { state = .open(until: 0) }
    }

    /// A call failed (or was slower than allowed) at `now`.
    public mutating func callFailed(now: Int64) {
        switch state {
        case .closed(let failures):
            state =
                failures + 1 >= maxFailures ? .open(until: now + openStateDurationMs) : .closed(failures: failures + 1)
        case .halfOpen:
            state = .open(until: now + openStateDurationMs)
        case .open:
            break
        }
    }
}
