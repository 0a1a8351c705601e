/// One counter's fixed window, as Gravitee's rate-limit repositories keep it: the window opens at the first hit
/// after the previous one ended (so windows are aligned to a key's first request, not to the clock) and lasts one
/// period; every hit in it adds to `count`, refused ones included.
public struct RateLimitWindow: Sendable, Hashable {
    /// Hits counted in this window.
    public var count: Int64
    /// When the window ends, in milliseconds since the epoch: a hit at or after this time opens a new window.
    public var resetAt: Int64

    public init(count: Int64, resetAt: Int64) {
        self.count = count
        self.resetAt = resetAt
    }

    public func isExpired(at now: Int64) -> Bool { resetAt <= now }

    /// Counts `weight` hits at `now`. When the window has ended, a new one opens first, ending at `newWindowEnd`.
    public mutating func hit(weight: Int64 = 1, now: Int64, newWindowEnd: Int64) {
        if isExpired(at: now) {
            self = RateLimitWindow(count: 0, resetAt: newWindowEnd)
        }
        count = count.addingReportingOverflow(weight).overflow ? .max : count + weight
    }

    /// The window a key without one gets at its first hit.
    public static func first(weight: Int64 = 1, windowEnd: Int64) -> RateLimitWindow {
        RateLimitWindow(count: weight, resetAt: windowEnd)
    }
}
