/// A policy a flow step runs, compiled at deploy time from the step's configuration (expressions parsed once).
///
/// A policy acts on the exchange (request and response phases: the headers of the request or of the response,
/// and the request's context attributes) or on one message (publish and subscribe phases). It is a pure value:
/// what it needs of the world comes in through its arguments.
public protocol FlowPolicy: Sendable {
    /// Request and response phases.
    func apply(to exchange: inout FlowExchange, scope: ExpressionScope) -> FlowStepResult
    /// Publish and subscribe phases.
    func apply(to message: inout Message, exchange: FlowExchange, scope: ExpressionScope) -> FlowStepResult
}

extension FlowPolicy {
    public func apply(to exchange: inout FlowExchange, scope: ExpressionScope) -> FlowStepResult { .proceed }

    public func apply(to message: inout Message, exchange: FlowExchange, scope: ExpressionScope) -> FlowStepResult {
        .proceed
    }
}

/// What request and response steps act on: the headers of the phase (the request's in `request`, the response's
/// in `response`), and the request's context attributes, which live as long as the request (a stream's whole
/// life for SSE and WebSocket).
public struct FlowExchange: Sendable {
    public var phase: FlowPhase
    public var headers: MessageHeaders
    public var attributes: [String: ExpressionValue]
    /// What answers the request in place of the endpoint, when a request step chose one (`mock`). Like Gravitee's
    /// invoker, it is only chosen here: the request phase goes on, and it answers once the phase is over (the last
    /// chosen wins).
    public var responder: (any FlowResponder)?

    public init(
        phase: FlowPhase, headers: MessageHeaders = MessageHeaders(), attributes: [String: ExpressionValue] = [:]
    ) {
        self.phase = phase
        self.headers = headers
        self.attributes = attributes
    }
}

/// Answers a request in place of its endpoint (the `mock` policy), from the request as the request phase left it.
public protocol FlowResponder: Sendable {
    /// The answer, or the error that answers instead. `scope` is the request's at the end of the request phase.
    func respond(in scope: ExpressionScope) -> Result<FlowResponse, GatewayError>
}

/// An answer a flow step gives in place of the endpoint: a status, headers and a whole body.
public struct FlowResponse: Sendable {
    public var status: Int
    public var headers: MessageHeaders
    public var body: String

    public init(status: Int, headers: MessageHeaders = MessageHeaders(), body: String = "") {
        self.status = status
        self.headers = headers
        self.body = body
    }
}
