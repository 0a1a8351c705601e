import Foundation
import Synchronization

/// One request going through its flows: the flows it picked, its context attributes, its request headers as the
/// request phase left them. The phases are run by the gateway at their time (``runRequest()`` before the
/// entrypoint serves, ``runResponse(headers:status:)`` before the answer's head is written, ``process(_:in:)`` for
/// each message); steps run in order, and a `latency` step waits without blocking a thread.
///
/// The request phase ends in one of three ways (``RequestOutcome``): the request goes on to its endpoint, a step
/// answered in the endpoint's place (`mock`: the gateway writes that answer after running the response phase on
/// it, and the endpoint is never called), or a step failed.
///
/// Messages of one request are processed one at a time by its connection's task; the state is behind a lock so the
/// run can be shared with the tasks of a WebSocket (publisher and subscriber sides).
public final class FlowRun: Sendable {
    /// How the request phase ended.
    public enum RequestOutcome: Sendable {
        /// The request goes on to its endpoint.
        case proceed
        /// A step answered in the endpoint's place (`mock`): the endpoint is not called; the response phase runs
        /// on this answer before it is written.
        case answer(FlowResponse)
        /// A step failed: this error answers the request (no response phase, as in Gravitee).
        case fail(GatewayError)

        /// The error that answers the request, if the phase failed.
        public var error: GatewayError? {
            if case .fail(let error) = self { return error }
            return nil
        }
    }

    /// What became of a message.
    public enum MessageOutcome: Sendable {
        case deliver(Message)
        /// A step dropped it (`message-filtering`): the exchange goes on without it.
        case drop
        /// A step failed: the exchange ends with this error.
        case fail(GatewayError)
    }

    struct State {
        var headers: MessageHeaders
        var attributes: [String: ExpressionValue]
        /// Step conditions of message phases, evaluated at the first message (keyed by the step's location).
        var conditions: [String: Bool] = [:]
        /// The flows whose conditions held, once decided (by the request phase, else at first use).
        var resolved: [FlowEngine.Flow]?
        /// Counts the changes of `headers` and `attributes` (by the request and response phases).
        var version = 0
        /// What message phases evaluate in, `#message` aside: built at the first message from `headers` and
        /// `attributes` as they were at `version`, then kept (steps of a message phase do not change them).
        var messageScope: (version: Int, scope: ExpressionScope)?
        /// The steps of the message phases, in order across the flows that apply, once those are known.
        var publishSteps: [FlowEngine.Step]?
        var subscribeSteps: [FlowEngine.Step]?
    }

    let engine: FlowEngine
    let request: FlowRequest
    /// The flows the request's path, method and entrypoint select, their conditions not yet evaluated.
    let candidates: [FlowEngine.Flow]
    let pathParameters: [(name: String, value: String)]
    let matchRequired: Bool
    let evaluator: ExpressionEvaluator
    private let state: Mutex<State>

    init(
        engine: FlowEngine, request: FlowRequest, candidates: [FlowEngine.Flow], resolved: [FlowEngine.Flow]?,
        pathParameters: [(name: String, value: String)], matchRequired: Bool, evaluator: ExpressionEvaluator
    ) {
        self.engine = engine
        self.request = request
        self.candidates = candidates
        self.pathParameters = pathParameters
        self.matchRequired = matchRequired
        self.evaluator = evaluator
        var attributes: [String: ExpressionValue] = [
            "gravitee.attribute.api": .string(engine.apiID), "gravitee.attribute.plan": .string(request.plan),
        ]
        if let subscription = request.subscription {
            attributes["gravitee.attribute.subscription"] = .string(subscription.id)
            attributes["gravitee.attribute.application"] = subscription.applicationID.map(ExpressionValue.string)
        }
        self.state = Mutex(State(headers: request.headers, attributes: attributes, resolved: resolved))
    }

    /// The flows that apply: those the request phase picked, else (a phase before it, or none) the candidates
    /// whose conditions hold now.
    var flows: [FlowEngine.Flow] {
        if let resolved = state.withLock({ $0.resolved }) { return resolved }
        let exchange = state.withLock { FlowExchange(phase: .request, headers: $0.headers, attributes: $0.attributes) }
        let scope = self.scope(exchange: exchange)
        let resolved = candidates.filter { FlowEngine.conditionsHold($0, scope, evaluator) }
        return state.withLock { state in
            if let earlier = state.resolved { return earlier }
            state.resolved = resolved
            return resolved
        }
    }

    /// The names of the flows picked for this request, in the order they run (for tests and logs).
    public var flowNames: [String] { flows.map { $0.name ?? "" } }

    /// Whether some picked flow has a step in `phase`.
    public func runs(_ phase: FlowPhase) -> Bool {
        flows.contains { !($0.steps[phase] ?? []).isEmpty }
    }

    /// The request's headers as the request phase left them (`transform-headers`).
    public var requestHeaders: MessageHeaders { state.withLock { $0.headers } }

    /// The context attributes now (`assign-attributes` in the request phase sets them).
    public var attributes: [String: ExpressionValue] { state.withLock { $0.attributes } }

    /// The context attributes that are Gravitee endpoint settings (`gravitee.attribute.…`), as text: what a
    /// subscription request carries to the endpoint, and what each published message starts with.
    public var endpointAttributes: [String: String] {
        var result: [String: String] = [:]
        for (name, value) in attributes where name.hasPrefix("gravitee.attribute.") {
            switch value {
            case .null, .object: continue
            default: result[name] = value.text
            }
        }
        return result
    }

    // MARK: - Phases

    /// Runs the request phase; then, if a step chose to answer in the endpoint's place, that answer, made from the
    /// request as the phase left it.
    public func runRequest() async -> RequestOutcome {
        if matchRequired, candidates.isEmpty { return .fail(FlowEngine.noFlowMatched) }
        let (error, exchange) = await runExchange(.request, status: 0, headers: nil)
        if let error { return .fail(error) }
        guard let responder = exchange.responder else { return .proceed }
        switch responder.respond(in: scope(exchange: exchange)) {
        case .success(let answer): return .answer(answer)
        case .failure(let error): return .fail(error)
        }
    }

    /// Runs the response phase on the answer's headers (and the request's context): nil, or the error that
    /// answers instead.
    public func runResponse(headers: inout MessageHeaders, status: Int = 200) async -> GatewayError? {
        let (error, exchange) = await runExchange(.response, status: status, headers: headers)
        headers = exchange.headers
        return error
    }

    private func runExchange(
        _ phase: FlowPhase, status: Int, headers: MessageHeaders?
    ) async -> (error: GatewayError?, exchange: FlowExchange) {
        var exchange = state.withLock { state in
            FlowExchange(phase: phase, headers: headers ?? state.headers, attributes: state.attributes)
        }
        // The request phase decides which flows apply, each when it is reached (see FlowEngine.start).
        let deciding = phase == .request && state.withLock { $0.resolved == nil }
        var picked: [FlowEngine.Flow] = []
        defer {
            let exchange = exchange
            let picked = picked
            state.withLock { state in
                state.attributes = exchange.attributes
                if phase == .request { state.headers = exchange.headers }
                state.version += 1
                if deciding, state.resolved == nil { state.resolved = picked }
            }
        }
        for flow in deciding ? candidates : flows {
            if deciding {
                guard FlowEngine.conditionsHold(flow, self.scope(exchange: exchange, status: status), evaluator) else {
                    continue
                }
                picked.append(flow)
            }
            for step in flow.steps[phase] ?? [] {
                let scope = self.scope(exchange: exchange, status: status)
                if let condition = step.condition, !FlowEngine.holds(condition, scope, evaluator) { continue }
                switch step.policy.apply(to: &exchange, scope: scope) {
                case .proceed, .drop: continue
                case .delay(let duration): try? await Task.sleep(for: duration)
                case .fail(let error): return (error, exchange)
                }
            }
        }
        if deciding, matchRequired, picked.isEmpty { return (FlowEngine.noFlowMatched, exchange) }
        return (nil, exchange)
    }

    /// Runs the steps of a message phase on one message.
    public func process(_ message: consuming Message, in phase: FlowPhase) async -> MessageOutcome {
        var message = message
        if phase == .publish {
            // The request's endpoint settings travel with each message; the message's own win.
            for (name, value) in endpointAttributes where message.attributes[name] == nil {
                message.attributes[name] = value
            }
        }
        let (exchange, version, cached, known) = state.withLock { state in
            (
                FlowExchange(phase: phase, headers: state.headers, attributes: state.attributes), state.version,
                state.messageScope.flatMap { $0.version == state.version ? $0.scope : nil },
                phase == .publish ? state.publishSteps : state.subscribeSteps
            )
        }
        // The request's part of the scope is the same for every message: built once (its headers, its attributes).
        let base: ExpressionScope
        if let cached {
            base = cached
        } else {
            base = scope(exchange: exchange)
            state.withLock { state in
                if state.version == version { state.messageScope = (version, base) }
            }
        }
        let steps = known ?? messageSteps(phase)
        for step in steps {
            if let condition = step.condition, !stepCondition(step, condition, exchange) { continue }
            let scope = base.with("message", .object(MessageExpressionObject(message)))
            if let condition = step.messageCondition, !FlowEngine.holds(condition, scope, evaluator) { continue }
            switch step.policy.apply(to: &message, exchange: exchange, scope: scope) {
            case .proceed: continue
            case .delay(let duration): try? await Task.sleep(for: duration)
            case .drop: return .drop
            case .fail(let error): return .fail(error)
            }
        }
        return .deliver(message)
    }

    /// The steps of a message phase across the flows that apply, kept for the next messages.
    private func messageSteps(_ phase: FlowPhase) -> [FlowEngine.Step] {
        let steps = flows.flatMap { $0.steps[phase] ?? [] }
        state.withLock { state in
            if phase == .publish { state.publishSteps = steps } else { state.subscribeSteps = steps }
        }
        return steps
    }

    /// A step's request-level condition in a message phase: evaluated at the first message, then kept.
    private func stepCondition(
        _ step: FlowEngine.Step, _ condition: ExpressionTemplate, _ exchange: FlowExchange
    )
        -> Bool
    {
        if let known = state.withLock({ $0.conditions[step.location] }) { return known }
        let holds = FlowEngine.holds(condition, scope(exchange: exchange), evaluator)
        state.withLock { $0.conditions[step.location] = holds }
        return holds
    }

    // MARK: - Scope

    /// What a request-level expression outside the flows sees (an API's logging condition): `#request`, `#api`,
    /// `#subscription` and `#context` with no attribute.
    public static func requestScope(_ request: FlowRequest, api: ExpressionValue) -> ExpressionScope {
        baseScope(
            request: RequestExpressionObject(request), api: api, attributes: [:], subscription: request.subscription)
    }

    static func baseScope(
        request: RequestExpressionObject, api: ExpressionValue, attributes: [String: ExpressionValue],
        subscription: FlowRequest.Subscription? = nil
    ) -> ExpressionScope {
        ExpressionScope([
            "request": .object(request),
            "context": .map(["attributes": .map(attributes)]),
            "api": api,
            "subscription": .object(SubscriptionExpressionObject(subscription)),
            "message": .null,
            "response": .null,
        ])
    }

    func scope(exchange: FlowExchange, status: Int = 0, message: Message? = nil) -> ExpressionScope {
        var current = request
        if exchange.phase != .response { current.headers = exchange.headers } else { current.headers = requestHeaders }
        var scope = Self.baseScope(
            request: RequestExpressionObject(current, pathParameters: pathParameters), api: engine.api,
            attributes: exchange.attributes, subscription: request.subscription)
        if exchange.phase == .response {
            scope.variables["response"] = .object(ResponseExpressionObject(status: status, headers: exchange.headers))
        }
        if let message { scope.variables["message"] = .object(MessageExpressionObject(message)) }
        return scope
    }
}
