import NIOHTTP1
import SluiceCore
import SluiceEndpoints
import Synchronization
import Tracing

/// One proxied request's spans: its server span (a ``GatewayRequestTrace``), and the client span of each attempt
/// to reach a backend, a child of the server span, whose trace context the attempt carries to the backend.
///
/// Both ways to a backend report here: the event-loop exchange, and the entrypoint with its HTTP client (whose
/// attempts run in a task of their own, hence the lock; attempts follow each other).
final class ProxyRequestTrace: HTTPProxyTrace {
    let request: GatewayRequestTrace
    private let state = Mutex(State())

    private struct State {
        /// The client span of the attempt under way.
        var attempt: (any Span)?
        /// What the client was answered: its status, and the gateway error's key when the gateway answered.
        var answered: (status: Int, error: String?)?
        /// Whether the request's spans have ended: a late attempt starts no span.
        var ended = false
    }

    /// What ends the spans of a request whose client left before its answer was over.
    static let clientLeft = "the client closed the connection"

    init(request: GatewayRequestTrace) {
        self.request = request
    }

    func attemptStarted(
        _ method: HTTPMethod, endpoint: HTTPProxyEndpoint, relativePath: Substring, resendCount: Int
    ) -> (parent: String, state: String?)? {
        let deployment = request.deployment
        let (plan, entrypoint) = (request.plan, request.entrypoint)
        let tracing = deployment.tracing
        let known = DeploymentTracing.knownMethod(method.rawValue)
        let span = tracing.startSpan(known ?? "HTTP", context: request.span.context, kind: .client) { attributes in
            deployment.addCommonAttributes(&attributes, plan: plan, entrypoint: entrypoint)
            DeploymentTracing.addMethod(&attributes, method.rawValue, known: known)
            let target = endpoint.configuration.target
            attributes["server.address"] = target.host
            attributes["server.port"] = target.port
            attributes["url.full"] = DeploymentTracing.visible(
                target.origin + endpoint.requestTarget(relativePath: relativePath, query: ""))
            attributes["sluice.endpoint.name"] = endpoint.name
            if resendCount > 0 { attributes["http.request.resend_count"] = resendCount }
        }
        let started = state.withLock { state -> Bool in
            guard !state.ended else { return false }
            state.attempt = span
            return true
        }
        guard started else {
            Self.end(span, error: Self.clientLeft)
            return nil
        }
        return tracing.headers(of: span)
    }

    func attemptAnswered(status: Int) {
        guard let span = state.withLock({ $0.attempt }) else { return }
        span.attributes["http.response.status_code"] = status
        // A client span fails on 4xx too: the request did not get what it asked for.
        if status >= 400 {
            span.attributes["error.type"] = String(status)
            span.setStatus(SpanStatus(code: .error))
        }
    }

    func attemptEnded(error: String?) {
        guard let span = state.withLock({ $0.attempt.take() }) else { return }
        Self.end(span, error: error)
    }

    func answered(status: Int, error: String?) {
        state.withLock { $0.answered = (status, error) }
    }

    /// Ends the request's spans: the attempt still under way, then the server span with the answer reported.
    /// `error` is what cut the exchange short: a failure once the answer had begun, or the client leaving. A
    /// request that was never answered ends as its client left.
    func end(error: String?) {
        let (attempt, answered) = state.withLock { state in
            state.ended = true
            return (state.attempt.take(), state.answered)
        }
        if let attempt { Self.end(attempt, error: error ?? Self.clientLeft) }
        guard let answered else {
            request.end(status: nil, error: error ?? Self.clientLeft)
            return
        }
        if let error, answered.status < 500 {
            // The answer began and was cut: the client got less than its status says.
            request.span.attributes["error.type"] = error
            request.span.setStatus(SpanStatus(code: .error, message: error))
        }
        request.end(status: answered.status, error: answered.error ?? error)
    }

    private static func end(_ span: any Span, error: String?) {
        if let error {
            span.attributes["error.type"] = error
            span.setStatus(SpanStatus(code: .error, message: error))
        }
        span.end()
    }
}
