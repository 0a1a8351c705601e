public import NIOHTTP1
public import SluiceCore

/// The spans of one proxied request, when the gateway traces (`tracing.enabled`): the request's server span, and a
/// client span for each attempt to reach a backend (one per failover retry). With tracing off there is none, and
/// nothing of this runs.
///
/// Attempts follow each other: an attempt ends (``attemptEnded(error:)``) before the next starts.
public protocol HTTPProxyTrace: Sendable {
    /// Starts the client span of an attempt to send a `method` request for `relativePath` to `endpoint`, a child of
    /// the request's server span; `resendCount` is 0 for the first attempt, 1 for the first retry… Returns the
    /// `traceparent` and `tracestate` the attempt carries to the backend (nil: send the request as it is).
    func attemptStarted(
        _ method: HTTPMethod, endpoint: HTTPProxyEndpoint, relativePath: Substring, resendCount: Int
    ) -> (parent: String, state: String?)?

    /// The backend of the attempt under way answered with `status` (its head). The attempt's span lasts until the
    /// answer has been relayed (``attemptEnded(error:)``).
    func attemptAnswered(status: Int)

    /// The attempt under way is over: its answer relayed whole (`error` nil), or failed with `error` (the gateway
    /// error's key).
    func attemptEnded(error: String?)

    /// The client is answered `status`: the backend's, or the gateway's error with its key `error`.
    func answered(status: Int, error: String?)
}

extension HTTPProxyTrace {
    /// Ends the attempt under way with `failure`.
    public func attemptFailed(_ failure: any Error) {
        attemptEnded(error: Self.describe(failure))
    }

    /// How a failure reads on a span: a gateway error's key, else a short description.
    public static func describe(_ failure: any Error) -> String {
        if let failure = failure as? GatewayError { return failure.key }
        if failure is CancellationError { return "the client closed the connection" }
        return String(String(describing: failure).prefix(200))
    }
}

extension HTTPHeaders {
    /// Replaces the request's trace context with `parent` and `state` (a backend attempt's span's).
    package mutating func setTraceContext(parent: String, state: String?) {
        replaceOrAdd(name: TraceParent.headerName, value: parent)
        if let state {
            replaceOrAdd(name: TraceParent.stateHeaderName, value: state)
        } else {
            remove(name: TraceParent.stateHeaderName)
        }
    }
}
