import Foundation
import PostgresTestSupport
import SluiceCore
import Testing

@testable import SluiceStore

/// Shared rate-limit counters: one atomic upsert per hit, several nodes (connection pools) on one database.
@Suite(
    "shared rate-limit counters in PostgreSQL",
    .enabled(if: PostgresEnvironment.shouldRun, Comment(rawValue: PostgresEnvironment.skipReason)))
struct PostgresRateLimitStoreTests {
    @Test("hits from two nodes at once all count, each sees its own place, and an ended window starts again")
    func concurrentHits() async throws {
        try await withPostgres { server in
            try await withPostgresStore(url: server.url) { first in
                try await withPostgresStore(url: server.url) { second in
                    let now: Int64 = 1_000_000
                    let counts = try await withThrowingTaskGroup(of: Int64.self) { group in
                        for index in 0..<200 {
                            let store = index % 2 == 0 ? first.rateLimitStore : second.rateLimitStore
                            group.addTask {
                                try await store.increment(
                                    key: "api:plan:app", weight: 1, now: now, windowEnd: now + 60_000
                                ).count
                            }
                        }
                        return try await group.reduce(into: [Int64]()) { $0.append($1) }
                    }
                    #expect(counts.sorted() == Array(1...200))
                    let same = try await first.rateLimitStore.increment(
                        key: "api:plan:app", weight: 5, now: now + 1, windowEnd: now + 99_999)
                    #expect(same == RateLimitWindow(count: 205, resetAt: now + 60_000))
                    // The window has ended: a new one opens with this hit alone.
                    let next = try await second.rateLimitStore.increment(
                        key: "api:plan:app", weight: 1, now: now + 60_000, windowEnd: now + 120_000)
                    #expect(next == RateLimitWindow(count: 1, resetAt: now + 120_000))
                    // Other keys count apart; expired counters can be cleared.
                    #expect(
                        try await first.rateLimitStore.increment(key: "other", weight: 1, now: now, windowEnd: now + 10)
                            .count == 1)
                    #expect(try await first.rateLimitStore.removeExpired(before: now + 50) == 1)
                    #expect(
                        try await first.rateLimitStore.increment(
                            key: "other", weight: 1, now: now + 60, windowEnd: now + 70
                        ).count == 1)
                }
            }
        }
    }

    @Test("a database that cannot be reached is a retriable store error, for the step's errorStrategy")
    func unreachable() async throws {
        try await withPostgres { server in
            try await withPostgresStore(url: server.url, timeout: .seconds(1)) { store in
                server.stop(removing: false)
                do {
                    _ = try await store.rateLimitStore.increment(key: "k", weight: 1, now: 0, windowEnd: 10)
                    Issue.record("counted without a database")
                } catch let error as RateLimitStoreError {
                    #expect(error.code == "RATE_LIMIT_STORE_UNAVAILABLE" && error.isRetriable)
                }
            }
        }
    }
}
