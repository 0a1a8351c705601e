/// Where rate-limit, quota and spike-arrest counters live. The gateway's default keeps them in memory
/// (``LocalRateLimitStore``); a store shared by several gateway nodes (PostgreSQL) implements the same protocol.
///
/// A store only counts: the caller computes when a new window would end, and decides on the count it gets back.
public protocol RateLimitStore: Sendable {
    /// Adds `weight` to the counter of `key` at `now` and returns its window after the hit. When the key has no
    /// window, or its window has ended, a new one opens first, ending at `windowEnd`.
    func increment(key: String, weight: Int64, now: Int64, windowEnd: Int64) async throws -> RateLimitWindow

    /// The store again when it can count without suspending (it holds its counters in memory), for the event-loop
    /// request path; nil when counting needs I/O, and that path then hands the request to the async one.
    var immediate: (any ImmediateRateLimitStore)? { get }
}

/// A store that counts at once, under a lock at most.
public protocol ImmediateRateLimitStore: RateLimitStore {
    func incrementNow(key: String, weight: Int64, now: Int64, windowEnd: Int64) throws -> RateLimitWindow
}

extension ImmediateRateLimitStore {
    public func increment(key: String, weight: Int64, now: Int64, windowEnd: Int64) async throws -> RateLimitWindow {
        try incrementNow(key: key, weight: weight, now: now, windowEnd: windowEnd)
    }

    public var immediate: (any ImmediateRateLimitStore)? { self }
}

/// A counter store that could not count a hit. The step's `errorStrategy` then decides.
public struct RateLimitStoreError: Error, Sendable, CustomStringConvertible, Equatable {
    public var code: String
    public var message: String
    public var isRetriable: Bool

    public init(code: String, message: String, isRetriable: Bool) {
        self.code = code
        self.message = message
        self.isRetriable = isRetriable
    }

    public var description: String { "\(code): \(message)" }

    /// The store holds as many counters as it may, none of them expired: a new key cannot get one.
    public static func full(capacity: Int) -> RateLimitStoreError {
        .init(
            code: "RATE_LIMIT_STORE_FULL",
            message: "the rate-limit store holds its maximum of \(capacity) live counters", isRetriable: true)
    }
}
