public import Foundation
import Synchronization

/// API keys that recently let a request in, with the plan they resolved to: a key seen again costs one lookup
/// instead of its SHA-256 digest and the subscription lookups. An entry holds only while the access data it was
/// decided with is in force (its snapshot's generation) and until the first time its answer could change (a key
/// expiring, a subscription starting or ending). Keys that were refused are not kept, so guessing fills nothing.
/// The number of entries is bounded: when full, about a tenth are dropped, whichever they are.
public final class APIKeyCache: Sendable {
    private struct Entry {
        var plan: SecurityChain.ResolvedPlan
        var generation: UInt64
        var stableUntil: Date?
    }

    /// Keyed by the presented key itself: looked up with the request's bytes, without a copy.
    private let entries = Mutex<[Substring: Entry]>([:])
    public let capacity: Int

    public init(capacity: Int = 4096) {
        self.capacity = max(1, capacity)
    }

    /// The plan `key` resolved to with the snapshot of generation `generation`, if it still holds at `now`.
    public func plan(for key: Substring, generation: UInt64, now: Date) -> SecurityChain.ResolvedPlan? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.generation == generation, entry.stableUntil.map({ now < $0 }) ?? true else {
                entries[key] = nil
                return nil
            }
            return entry.plan
        }
    }

    public func store(_ plan: SecurityChain.ResolvedPlan, for key: Substring, generation: UInt64, until: Date?) {
        // The key is copied out of the request it came with, which the cache must not keep alive.
        let kept = Substring(String(key))
        let capacity = self.capacity
        entries.withLock { entries in
            if entries[kept] == nil, entries.count >= capacity {
                for key in entries.keys.prefix(max(1, capacity / 10)) { entries[key] = nil }
            }
            entries[kept] = Entry(plan: plan, generation: generation, stableUntil: until)
        }
    }

    public var count: Int { entries.withLock { $0.count } }
}
