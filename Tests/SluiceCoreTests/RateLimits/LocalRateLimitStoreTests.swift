import Synchronization
import Testing

@testable import SluiceCore

/// What the concurrent tasks saw.
final class Tally: Sendable {
    let allowed = Atomic<Int>(0)
    let counts = Mutex<[Int64]>([])
}

/// The in-memory counter store: exact under concurrency, bounded, expired windows dropped.
@Suite("local rate-limit store")
struct LocalRateLimitStoreTests {
    @Test("64 concurrent tasks hitting one key: every hit counted once, exactly `limit` allowed")
    func exactUnderConcurrency() async throws {
        let store = LocalRateLimitStore()
        let policy = RateLimitPolicy(kind: .rateLimit, limit: 1000, period: RateLimitPeriod(count: 1, unit: .hours))
        let tally = Tally()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    var seen: [Int64] = []
                    for _ in 0..<50 {
                        let window = try! store.incrementNow(
                            key: "k", weight: 1, now: 1_000, windowEnd: policy.windowEnd(from: 1_000))
                        seen.append(window.count)
                        if policy.decide(window, now: 1_000).refusal == nil { tally.allowed.add(1, ordering: .relaxed) }
                    }
                    tally.counts.withLock { $0 += seen }
                }
            }
        }
        // 3,200 hits: each saw a distinct count, 1...3200, and exactly the first 1,000 were allowed.
        #expect(tally.counts.withLock { $0.sorted() } == Array(1...3200))
        #expect(tally.allowed.load(ordering: .relaxed) == 1000)
        #expect(store.window(for: "k") == RateLimitWindow(count: 3200, resetAt: 3_601_000))
    }

    @Test("at capacity a new key is not counted (RATE_LIMIT_STORE_FULL) while known keys keep counting")
    func capacity() throws {
        let store = LocalRateLimitStore(capacity: 3, shardCount: 2)
        for key in ["a", "b", "c"] {
            _ = try store.incrementNow(key: key, weight: 1, now: 0, windowEnd: 10_000)
        }
        #expect(throws: RateLimitStoreError.full(capacity: 3)) {
            try store.incrementNow(key: "d", weight: 1, now: 1, windowEnd: 10_001)
        }
        #expect(try store.incrementNow(key: "a", weight: 1, now: 2, windowEnd: 10_002).count == 2)
        #expect(store.count == 3)
        // A hit inside a window keeps that window (and its end): nothing has expired yet.
        #expect(try store.incrementNow(key: "b", weight: 1, now: 5_000, windowEnd: 6_000).resetAt == 10_000)
        #expect(throws: RateLimitStoreError.self) {
            try store.incrementNow(key: "d", weight: 1, now: 9_999, windowEnd: 19_999)
        }
        // Once the windows have ended, their places go to new keys.
        #expect(try store.incrementNow(key: "d", weight: 1, now: 10_000, windowEnd: 20_000).count == 1)
        #expect(store.count <= 3)
        // Expired windows in shards nobody hit since are dropped by the next sweep.
        store.sweepAll(now: 10_000)
        #expect(store.count == 1)
        #expect(store.window(for: "a") == nil)
        #expect(store.window(for: "d") == RateLimitWindow(count: 1, resetAt: 20_000))
    }

    @Test("expired windows are swept: memory follows the live keys, not every key ever seen")
    func sweeping() throws {
        let store = LocalRateLimitStore(capacity: 100_000, shardCount: 4)
        for index in 0..<1000 {
            _ = try store.incrementNow(key: "old-\(index)", weight: 1, now: 0, windowEnd: 100)
        }
        #expect(store.count == 1000)
        // A second later, hits on other keys sweep the shards they land in.
        for index in 0..<64 {
            _ = try store.incrementNow(key: "new-\(index)", weight: 1, now: 2_000, windowEnd: 3_000)
        }
        store.sweepAll(now: 2_000)
        #expect(store.count == 64)
        #expect(store.window(for: "old-1") == nil)
        #expect(store.window(for: "new-1") == RateLimitWindow(count: 1, resetAt: 3_000))
    }
}
