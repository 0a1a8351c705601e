public import SluiceCore

/// Rate-limit counters in PostgreSQL, shared by every gateway node on the database: each hit is one atomic upsert
/// that opens a new window when the old one has ended, so concurrent hits from several nodes all count.
public struct PostgresRateLimitStore: RateLimitStore {
    let backend: PostgresBackend

    /// Counts a hit in one statement; the row lock PostgreSQL takes for `ON CONFLICT DO UPDATE` serializes hits on
    /// the same key across nodes.
    static let upsert = """
        INSERT INTO rate_limit_counters AS c (key, count, reset_at) VALUES (?, ?, ?)
        ON CONFLICT (key) DO UPDATE SET
          count = CASE WHEN c.reset_at <= ? THEN EXCLUDED.count ELSE c.count + EXCLUDED.count END,
          reset_at = CASE WHEN c.reset_at <= ? THEN EXCLUDED.reset_at ELSE c.reset_at END
        RETURNING count, reset_at
        """

    public var immediate: (any ImmediateRateLimitStore)? { nil }

    public func increment(key: String, weight: Int64, now: Int64, windowEnd: Int64) async throws -> RateLimitWindow {
        do {
            let rows = try await backend.withTimeout {
                try await backend.client.withConnection { connection in
                    try await PostgresSQLConnection(connection: connection, logger: backend.logger).query(
                        Self.upsert,
                        [.text(key), .integer(weight), .integer(windowEnd), .integer(now), .integer(now)])
                }
            }
            guard let row = rows.first else {
                throw StoreError(code: .unavailable, message: "the upsert returned no row")
            }
            return RateLimitWindow(count: try row.integer(0), resetAt: try row.integer(1))
        } catch {
            throw RateLimitStoreError(
                code: "RATE_LIMIT_STORE_UNAVAILABLE",
                message: "the shared rate-limit counters cannot be reached: \(error)",
                isRetriable: true)
        }
    }

    /// Deletes the counters whose window ended before `now` (milliseconds since the epoch); returns how many.
    @discardableResult
    public func removeExpired(before now: Int64) async throws -> Int {
        try await backend.withTimeout {
            try await backend.client.withConnection { connection in
                try await PostgresSQLConnection(connection: connection, logger: backend.logger).query(
                    "DELETE FROM rate_limit_counters WHERE reset_at <= ? RETURNING key", [.integer(now)]
                ).count
            }
        }
    }
}
