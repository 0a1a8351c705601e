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

    public init(
        phase: FlowPhase, headers: MessageHeaders = MessageHeaders(), attributes: [String: ExpressionValue] = [:]
    ) {
        self.phase = phase
        self.headers = headers
        self.attributes = attributes
    }
}
