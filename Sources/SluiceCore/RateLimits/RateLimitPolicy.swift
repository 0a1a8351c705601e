/// The configuration of one `rate-limit`, `quota` or `spike-arrest` step, as Gravitee's policies read it
/// (gravitee-policy-ratelimit): `{ addHeaders, async, errorStrategy, rate|quota|spike: { limit, periodTime,
/// periodTimeUnit, key, useKeyOnly } }`. See docs/rate-limits.md.
public struct RateLimitPolicy: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case rateLimit = "rate-limit"
        case quota = "quota"
        case spikeArrest = "spike-arrest"

        /// The object of the configuration that holds the limit.
        public var configurationField: String {
            switch self {
            case .rateLimit: "rate"
            case .quota: "quota"
            case .spikeArrest: "spike"
            }
        }

        /// The type Gravitee's key factory puts in a counter's key.
        var keyTag: String {
            switch self {
            case .rateLimit: "rl"
            case .quota: "q"
            case .spikeArrest: "sa"
            }
        }

        var errorPrefix: String {
            switch self {
            case .rateLimit: "RATE_LIMIT"
            case .quota: "QUOTA"
            case .spikeArrest: "SPIKE_ARREST"
            }
        }

        /// Gravitee's default: quota adds its headers, the other two do not.
        var addsHeadersByDefault: Bool { self == .quota }

        var units: [RateLimitPeriod.Unit] {
            switch self {
            case .rateLimit, .spikeArrest: [.milliseconds, .seconds, .minutes, .hours, .days]
            case .quota: [.seconds, .minutes, .hours, .days, .weeks, .months, .years]
            }
        }

        var defaultUnit: RateLimitPeriod.Unit { self == .quota ? .months : .seconds }
    }

    /// What happens when the counter store fails (or, for the local store, is full).
    public enum ErrorStrategy: String, Sendable, CaseIterable {
        /// Let the request through without counting it. Gravitee's default (and its spelling).
        case fallbackPassThrough = "FALLBACK_PASS_TROUGH"
        /// Refuse it: 429 `…_BLOCK_ON_INTERNAL_ERROR`.
        case blockOnInternalError = "BLOCK_ON_INTERNAL_ERROR"
    }

    public var kind: Kind
    /// The number of requests allowed per period.
    public var limit: Int64
    public var period: RateLimitPeriod
    public var addHeaders: Bool
    /// Gravitee's non-strict mode for distributed counters; the local store is always exact, so it changes nothing yet.
    public var async: Bool
    public var errorStrategy: ErrorStrategy
    /// A fixed key that takes part in the counter's key (expressions are refused at deploy).
    public var key: String?
    /// Count by `key` alone, regardless of API, plan and subscription (shared by every step that names the same key).
    public var useKeyOnly: Bool

    public init(
        kind: Kind, limit: Int64, period: RateLimitPeriod, addHeaders: Bool = true, async: Bool = false,
        errorStrategy: ErrorStrategy = .fallbackPassThrough, key: String? = nil, useKeyOnly: Bool = false
    ) {
        self.kind = kind
        self.limit = limit
        self.period = period
        self.addHeaders = addHeaders
        self.async = async
        self.errorStrategy = errorStrategy
        self.key = key
        self.useKeyOnly = useKeyOnly
    }

    /// The window a counter runs over and the hits it allows in it. For rate limit and quota, the configured ones;
    /// spike arrest spreads the limit evenly over the period, in slices: one hit per `period / limit`, or, when that
    /// slice would be shorter than 100 ms, a few hits per slice of about 100 ms (as Gravitee computes them).
    public var window: (limit: Int64, milliseconds: Int64?) {
        guard kind == .spikeArrest, let length = period.fixedMilliseconds else {
            return (limit, period.fixedMilliseconds)
        }
        let slice = Self.spikeSlice(limit: limit, periodMilliseconds: length)
        return (slice.limit, slice.milliseconds)
    }

    /// Gravitee's slice: one hit per `period / limit` ms, or `round(100 / slice)` hits per slice of about 100 ms.
    public static func spikeSlice(limit: Int64, periodMilliseconds: Int64) -> (limit: Int64, milliseconds: Int64) {
        // In single precision, as Gravitee computes it, so that slices come out to the same millisecond.
        let slice = Float(periodMilliseconds) / Float(max(limit, 1))
        if slice < 100 {
            let hits = max(1, (100 / slice + 0.5).rounded(.down))  // Java's Math.round
            return (Int64(hits), max(1, Int64(slice * hits)))
        }
        return (1, Int64(slice))
    }

    /// When a window opening at `now` ends.
    public func windowEnd(from now: Int64) -> Int64 {
        if let length = window.milliseconds {
            let (end, overflow) = now.addingReportingOverflow(length)
            return overflow ? .max : end
        }
        return period.end(from: now)
    }
}

// MARK: Decisions

extension RateLimitPolicy {
    /// What a step decides once its counter has been hit.
    public struct Decision: Sendable {
        public var headers: [(name: String, value: String)]
        /// nil: the request goes on.
        public var refusal: GatewayError?
    }

    /// Decides on a counter after the hit: allowed while its count is at most the limit, as Gravitee's policies do
    /// (the counter is incremented first, so the hit that makes it `limit + 1` is the first refused).
    public func decide(_ counter: RateLimitWindow, now: Int64) -> Decision {
        let (limit, slice) = window
        let allowed = counter.count <= limit
        var headers: [(name: String, value: String)] = []
        if addHeaders {
            switch kind {
            case .rateLimit, .quota:
                let prefix = kind == .quota ? "X-Quota-" : "X-Rate-Limit-"
                headers = [
                    (prefix + "Limit", String(limit)),
                    (prefix + "Remaining", String(max(0, limit - counter.count))),
                    (prefix + "Reset", String(counter.resetAt)),
                ]
            case .spikeArrest:
                headers = [
                    ("X-Spike-Arrest-Limit", String(limit)),
                    ("X-Spike-Arrest-Slice-Period", "\(slice ?? 0)ms"),
                    ("X-Spike-Arrest-Reset", String(counter.resetAt)),
                ]
            }
            if !allowed {
                // Not one of Gravitee's headers for these policies (its token-bucket policy sends it): seconds until
                // the window resets, rounded up.
                let wait = max(0, counter.resetAt - now)
                headers.append(("Retry-After", String((wait + 999) / 1000)))
            }
        }
        return Decision(headers: headers, refusal: allowed ? nil : tooManyRequests)
    }

    /// The decision when the counter store could not count the hit: through, with the headers Gravitee then sends
    /// (the limit as remaining, reset -1), or refused, by the step's error strategy.
    public func decideWithoutCounter() -> Decision {
        let limit = window.limit
        switch errorStrategy {
        case .blockOnInternalError:
            let subject =
                switch kind {
                case .rateLimit: "Rate limit"
                case .quota: "Quota"
                case .spikeArrest: "Spike arrest"
                }
            return Decision(
                headers: [],
                refusal: GatewayError(
                    status: 429, key: "\(kind.errorPrefix)_BLOCK_ON_INTERNAL_ERROR",
                    message: "\(subject) blocked the query due to internal error", isRetriable: true))
        case .fallbackPassThrough:
            guard addHeaders else { return Decision(headers: [], refusal: nil) }
            switch kind {
            case .rateLimit, .quota:
                let prefix = kind == .quota ? "X-Quota-" : "X-Rate-Limit-"
                return Decision(
                    headers: [
                        (prefix + "Limit", String(limit)), (prefix + "Remaining", String(limit)),
                        (prefix + "Reset", "-1"),
                    ],
                    refusal: nil)
            case .spikeArrest:
                return Decision(
                    headers: [
                        ("X-Spike-Arrest-Limit", String(limit)),
                        ("X-Spike-Arrest-Slice-Period", "\(window.milliseconds ?? 0)ms"),
                        ("X-Spike-Arrest-Reset", "-1"),
                    ], refusal: nil)
            }
        }
    }

    /// Gravitee's 429 for this policy, with its key and message.
    public var tooManyRequests: GatewayError {
        let message: String
        switch kind {
        case .rateLimit:
            message = "Rate limit exceeded! You reached the limit of \(limit) requests per \(period)"
        case .quota:
            message = "Quota exceeded! You reached the limit of \(limit) requests per \(period)"
        case .spikeArrest:
            let (sliceLimit, slice) = window
            message = "Spike limit exceeded! You reached the limit of \(sliceLimit) requests per \(slice ?? 0) ms."
        }
        return GatewayError(
            status: 429, key: "\(kind.errorPrefix)_TOO_MANY_REQUESTS", message: message, isRetriable: true)
    }
}
