import Synchronization

/// The gateway's own counters, in memory: exact under any concurrency (each key's window is updated under its
/// shard's lock), with bounded memory.
///
/// - Expired windows are dropped: a shard sweeps its expired windows at most once a second while it has any, and
///   at once when the store is full.
/// - At most `capacity` windows are held. When a new key comes while the store is full and no window has expired,
///   the hit is not counted and ``RateLimitStoreError/full(capacity:)`` is thrown: the step's `errorStrategy`
///   decides (by default the request passes, without headers telling a remaining count). Keys that already have a
///   window keep counting exactly; nothing is evicted early, so no client's budget is ever reset by another's.
public final class LocalRateLimitStore: ImmediateRateLimitStore {
    private struct Shard {
        var windows: [String: RateLimitWindow] = [:]
        /// No window of this shard ends before this time (a lower bound, exact after a sweep).
        var earliestReset = Int64.max
        var lastSweep = Int64.min

        mutating func sweep(now: Int64) -> Int {
            let before = windows.count
            windows = windows.filter { !$0.value.isExpired(at: now) }
            earliestReset = windows.values.lazy.map(\.resetAt).min() ?? .max
            lastSweep = now
            return before - windows.count
        }
    }

    /// A shard's lock and windows, held by reference (a `Mutex` cannot sit in an array).
    private final class ShardBox: Sendable {
        let state = Mutex(Shard())
    }

    private enum Outcome {
        case counted(RateLimitWindow)
        case needsRoom
    }

    /// The most windows held at once. Default: 100,000 (some 20 MB).
    public let capacity: Int
    private let shards: [ShardBox]
    private let held = Atomic<Int>(0)
    private static let sweepInterval: Int64 = 1000

    public init(capacity: Int = 100_000, shardCount: Int = 16) {
        self.capacity = max(1, capacity)
        self.shards = (0..<max(1, shardCount)).map { _ in ShardBox() }
    }

    /// The windows held now (expired ones not yet swept included).
    public var count: Int { held.load(ordering: .relaxed) }

    public func incrementNow(key: String, weight: Int64, now: Int64, windowEnd: Int64) throws -> RateLimitWindow {
        let shard = shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
        if case .counted(let window) = hit(key, in: shard, weight: weight, now: now, windowEnd: windowEnd) {
            return window
        }
        // Full: make room from every shard's expired windows (one shard's lock at a time), then try once more.
        sweepAll(now: now)
        if case .counted(let window) = hit(key, in: shard, weight: weight, now: now, windowEnd: windowEnd) {
            return window
        }
        throw RateLimitStoreError.full(capacity: capacity)
    }

    private func hit(
        _ key: String, in box: ShardBox, weight: Int64, now: Int64, windowEnd: Int64
    ) -> Outcome {
        box.state.withLock { shard -> Outcome in
            if shard.earliestReset <= now, shard.lastSweep <= now &- Self.sweepInterval {
                let dropped = shard.sweep(now: now)
                if dropped > 0 { held.subtract(dropped, ordering: .relaxed) }
            }
            if var window = shard.windows[key] {
                window.hit(weight: weight, now: now, newWindowEnd: windowEnd)
                shard.windows[key] = window
                shard.earliestReset = min(shard.earliestReset, window.resetAt)
                return .counted(window)
            }
            guard reserve() else { return .needsRoom }
            let window = RateLimitWindow.first(weight: weight, windowEnd: windowEnd)
            shard.windows[key] = window
            shard.earliestReset = min(shard.earliestReset, window.resetAt)
            return .counted(window)
        }
    }

    /// Takes one place if the store is not full.
    private func reserve() -> Bool {
        var current = held.load(ordering: .relaxed)
        while current < capacity {
            let (exchanged, original) = held.compareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Drops every expired window now.
    public func sweepAll(now: Int64) {
        for box in shards {
            let dropped = box.state.withLock { shard -> Int in
                shard.earliestReset <= now ? shard.sweep(now: now) : 0
            }
            if dropped > 0 { held.subtract(dropped, ordering: .relaxed) }
        }
    }

    /// The window of `key`, if it has one (for tests and diagnostics).
    public func window(for key: String) -> RateLimitWindow? {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))].state.withLock { $0.windows[key] }
    }
}
