/// What went wrong with one POST to a callback.
public enum WebhookFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The callback answered with a status outside 2xx.
    case status(Int)
    /// No answer: connection refused or reset, timeout, TLS failure (the text says which).
    case exception(String)

    public enum Kind: String, Sendable, Hashable {
        case clientError = "4xx"
        case serverError = "5xx"
        case exception
    }

    public var kind: Kind {
        switch self {
        case .status(let code): (400..<500).contains(code) ? .clientError : code >= 500 ? .serverError : .clientError
        case .exception: .exception
        }
    }

    /// Worth trying again: server errors, exceptions, 408 and 429. Other client errors would only repeat.
    public var isRetriable: Bool {
        switch self {
        case .status(let code): code >= 500 || code == 408 || code == 429
        case .exception: true
        }
    }

    public var description: String {
        switch self {
        case .status(let code): "the callback answered \(code)"
        case .exception(let text): text
        }
    }
}

/// The state of one webhook subscription's delivery, and the decisions on each attempt's outcome: a pure value,
/// driven by events (`attemptSucceeded`, `attemptFailed`, `pauseRequested`, …) that return what to do, so that the
/// delivery loop only carries the decisions out (and the tests drive it without sockets or clocks).
public struct WebhookDeliveryStateMachine: Sendable {
    /// The subscription's status, as Gravitee names it.
    public enum Status: String, Sendable, Hashable {
        /// Delivering.
        case accepted = "ACCEPTED"
        /// Paused by its owner (the access file says `PAUSED`): nothing is delivered, the position is kept.
        case paused = "PAUSED"
        /// A failure interrupted consumption: the message that failed is tried again every `maxDelayMs` until the
        /// callback takes it; then the status is `ACCEPTED` again.
        case failure = "FAILURE"
    }

    public struct Options: Sendable, Hashable {
        /// How the delay between attempts grows.
        public enum Backoff: String, Sendable, Hashable {
            /// `delayMs × 2^(n-1)`.
            case exponential = "EXPONENTIAL"
            /// `delayMs × n`.
            case linear = "LINEAR"
        }

        /// Attempts after the first; -1: retry for as long as it takes (the message is never given up, and the
        /// subscription never goes to `FAILURE`, for a retriable failure). Default: 5.
        public var maxRetries = 5
        /// Default: exponential.
        public var backoffStrategy = Backoff.exponential
        /// The first retry's delay; each later one doubles it. Default: 1000 ms.
        public var delayMs: Int64 = 1000
        /// The longest delay between attempts (and the probe interval in `FAILURE`). Default: 30000 ms.
        public var maxDelayMs: Int64 = 30000
        /// What an exhausted failure of each kind does: true stops consumption (`FAILURE`); false sends the message
        /// to the DLQ (or drops it when there is none) and goes on. Defaults: Gravitee's (a 4xx interrupts
        /// unless there is a DLQ; 5xx and exceptions interrupt).
        public var interruptOnClientError = true
        public var interruptOnServerError = true
        public var interruptOnException = true
        /// A DLQ endpoint is configured.
        public var hasDeadLetterQueue = false
        /// Never send a message twice (QoS at-most-once): no retries, and a failure never holds the message back.
        public var sendsOnce = false

        public init() {}

        func interrupts(_ kind: WebhookFailure.Kind) -> Bool {
            switch kind {
            case .clientError: interruptOnClientError
            case .serverError: interruptOnServerError
            case .exception: interruptOnException
            }
        }
    }

    /// What the delivery does next with the message whose attempt just ended.
    public enum Action: Sendable, Hashable {
        /// Delivered: acknowledge it (the position may move past it).
        case acknowledge
        /// Try the same message again after this many milliseconds.
        case retry(afterMs: Int64)
        /// Give up on it: publish it to the DLQ with the reason, then acknowledge it.
        case deadLetter(reason: String)
        /// Give up on it without a DLQ: acknowledge it, counted as dropped.
        case drop(reason: String)
        /// Stop consuming: the subscription is in `FAILURE`; try the same message again after this many ms.
        case interrupt(reason: String, probeAfterMs: Int64)
    }

    public let options: Options
    public private(set) var status: Status = .accepted
    /// Failed attempts of the message being delivered.
    public private(set) var failedAttempts = 0
    /// Why the subscription is in `FAILURE`.
    public private(set) var failureReason: String?

    public init(options: Options) {
        self.options = options
    }

    /// The callback took the message (2xx).
    public mutating func attemptSucceeded() -> Action {
        failedAttempts = 0
        if status == .failure {
            status = .accepted
            failureReason = nil
        }
        return .acknowledge
    }

    /// An attempt failed. `jitter` (in 0..<1, random in production) spreads retries of many subscriptions apart.
    public mutating func attemptFailed(_ failure: WebhookFailure, jitter: Double) -> Action {
        failedAttempts += 1
        if status == .failure {
            // Still down: probe again later; the message stays.
            return .interrupt(reason: failureReason ?? failure.description, probeAfterMs: options.maxDelayMs)
        }
        if failure.isRetriable, !options.sendsOnce, options.maxRetries < 0 || failedAttempts <= options.maxRetries {
            return .retry(afterMs: backoff(attempt: failedAttempts, jitter: jitter))
        }
        let reason = "\(failure) (after \(failedAttempts) attempt\(failedAttempts == 1 ? "" : "s"))"
        if options.interrupts(failure.kind), !options.sendsOnce {
            status = .failure
            failureReason = reason
            return .interrupt(reason: reason, probeAfterMs: options.maxDelayMs)
        }
        failedAttempts = 0
        return options.hasDeadLetterQueue ? .deadLetter(reason: reason) : .drop(reason: reason)
    }

    /// The message was given up (sent to the DLQ or dropped); the next one starts afresh.
    public mutating func messageSettled() {
        failedAttempts = 0
    }

    /// The access data says `PAUSED`.
    public mutating func pauseRequested() {
        status = .paused
    }

    /// The access data says `ACCEPTED` again: deliver from where it stopped.
    public mutating func resumeRequested() {
        guard status == .paused else { return }
        status = failureReason == nil ? .accepted : .failure
    }

    /// Backoff with jitter: `delayMs × 2^(attempt-1)` (or `delayMs × attempt`, linear), capped at `maxDelayMs`, of
    /// which the upper half is random (so a retry never comes sooner than half the nominal delay).
    public func backoff(attempt: Int, jitter: Double) -> Int64 {
        let factor: Double =
            switch options.backoffStrategy {
            case .exponential: Double(sign: .plus, exponent: min(max(attempt - 1, 0), 40), significand: 1)
            case .linear: Double(max(attempt, 1))
            }
        let nominal = min(Double(options.maxDelayMs), Double(options.delayMs) * factor)
        let spread = nominal / 2 * min(max(jitter, 0), 1)
        return Int64((nominal / 2 + spread).rounded())
    }
}
