import Foundation

/// The steps that apply to one request (or to each message of one connection), with their keys, in order.
public struct RateLimitGate: Sendable {
    struct Entry: Sendable {
        var policy: RateLimitPolicy
        var key: String
    }

    let entries: [Entry]

    public var isEmpty: Bool { entries.isEmpty }

    /// Counts one hit on each step's counter, in order, with a store that counts at once.
    public func checkNow(_ store: any ImmediateRateLimitStore, now: Int64 = Date.nowMilliseconds) -> RateLimitOutcome {
        var outcome = RateLimitOutcome()
        for entry in entries {
            let counted = Result {
                try store.incrementNow(
                    key: entry.key, weight: 1, now: now, windowEnd: entry.policy.windowEnd(from: now))
            }
            if !outcome.record(entry.policy, counted, now: now) { break }
        }
        return outcome
    }

    /// Counts one hit on each step's counter, in order.
    public func check(_ store: any RateLimitStore, now: Int64 = Date.nowMilliseconds) async -> RateLimitOutcome {
        if let immediate = store.immediate { return checkNow(immediate, now: now) }
        var outcome = RateLimitOutcome()
        for entry in entries {
            let counted: Result<RateLimitWindow, any Error>
            do {
                counted = .success(
                    try await store.increment(
                        key: entry.key, weight: 1, now: now, windowEnd: entry.policy.windowEnd(from: now)))
            } catch {
                counted = .failure(error)
            }
            if !outcome.record(entry.policy, counted, now: now) { break }
        }
        return outcome
    }
}
