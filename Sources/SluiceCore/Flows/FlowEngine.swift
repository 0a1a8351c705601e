/// The flows of an API definition, compiled at deploy time into what runs per request: plan flows
/// (`plans[].flows[]`) and API flows (`flows[]`), their selectors (`http`, `channel`, `condition`), and their steps
/// by phase, with every expression (`condition`, `messageCondition`, the policies' own) parsed once.
///
/// A request picks its flows once, when it starts (``start(_:)``): Gravitee's `DEFAULT` flow execution takes every
/// enabled flow whose selectors all match (the resolved plan's flows first, then the API's, each in the
/// definition's order); `BEST_MATCH` takes, among those, the one flow whose path matches best, for the plan's flows
/// and for the API's flows each (see ``bestMatch(_:path:)``). With `matchRequired`, a request that no flow matches
/// ends with 404 `FLOW_EXECUTION_FLOW_MATCHED_FAILURE`, as in Gravitee.
///
/// The `rate-limit`, `quota` and `spike-arrest` steps are not run here: ``RateLimitRules`` runs them before the
/// request phase (see docs/flows.md).
public struct FlowEngine: Sendable {
    /// A class: message phases read the steps for every message, where copying a struct would retain each field.
    final class Step: Sendable {
        let policy: any FlowPolicy
        let policyID: String
        /// Evaluated once per request (message phases: once, at the first message).
        let condition: ExpressionTemplate?
        /// Evaluated for each message.
        let messageCondition: ExpressionTemplate?
        /// Where the step is in the definition (`flows[0].publish[1]`).
        let location: String

        init(
            policy: any FlowPolicy, policyID: String, condition: ExpressionTemplate?,
            messageCondition: ExpressionTemplate?, location: String
        ) {
            self.policy = policy
            self.policyID = policyID
            self.condition = condition
            self.messageCondition = messageCondition
            self.location = location
        }
    }

    struct Flow: Sendable {
        var name: String?
        var matcher: FlowMatcher
        /// The flow's own `condition` (older exports write it next to the selectors).
        var condition: ExpressionTemplate?
        var steps: [FlowPhase: [Step]]
    }

    let planFlows: [String: [Flow]]
    let apiFlows: [Flow]
    public let mode: APIDefinition.FlowExecution.Mode
    public let matchRequired: Bool
    /// `#api`: `id`, `name`, `version`, `properties`.
    /// `#api`: the API's id, name, version and (unencrypted) properties.
    public let api: ExpressionValue
    let apiID: String

    /// Whether there is anything to run: no step of a policy this engine runs, and no `matchRequired`.
    public let isEmpty: Bool
    /// The phases some step runs in (a stream with no subscribe step can take the shared fast path).
    public let phases: Set<FlowPhase>

    /// The variables expressions may name; any other is refused at deploy.
    static let variables: Set<String> = ["request", "response", "message", "context", "api", "subscription"]

    /// Compiles the flows of `definition`, reporting by JSON path what cannot run as written: a policy
    /// configuration that does not read, an expression that does not parse (with its column) or names a variable
    /// this gateway does not have, a policy in a phase it does not run in. Unknown policy ids are left to
    /// ``DefinitionCatalog`` (which names them); rate-limit steps to ``RateLimitRules``.
    public init(_ definition: APIDefinition, diagnostics: inout DiagnosticCollector) {
        var planFlows: [String: [Flow]] = [:]
        var phases = Set<FlowPhase>()
        for plan in definition.plans {
            planFlows[plan.id] = Self.compile(plan.flows, in: definition.type, &phases, &diagnostics)
        }
        self.planFlows = planFlows
        self.apiFlows = Self.compile(definition.flows, in: definition.type, &phases, &diagnostics)
        self.mode = definition.flowExecution.mode
        self.matchRequired = definition.flowExecution.matchRequired
        var properties: [String: ExpressionValue] = [:]
        for property in definition.properties where !property.encrypted {
            properties[property.key] = .string(property.value)
        }
        for property in definition.properties where property.encrypted {
            diagnostics.warning(
                JSONPath("properties"),
                "encrypted property '\(property.key)' is not decrypted by this gateway: #api.properties does not show it"
            )
        }
        self.api = .map([
            "id": .string(definition.id), "name": .string(definition.name),
            "version": definition.apiVersion.map(ExpressionValue.string) ?? .null, "properties": .map(properties),
        ])
        self.apiID = definition.id
        self.phases = phases
        self.isEmpty = phases.isEmpty && !definition.flowExecution.matchRequired
    }

    private static func compile(
        _ flows: [APIDefinition.Flow], in apiType: APIDefinition.APIType, _ phases: inout Set<FlowPhase>,
        _ diagnostics: inout DiagnosticCollector
    ) -> [Flow] {
        var compiled: [Flow] = []
        for flow in flows where flow.enabled {
            // A flow that also holds rate-limit steps has its selectors read (and reported) by RateLimitRules.
            let sharesWithRateLimits = flow.steps.contains { $0.enabled && RateLimitRules.handles($0.policy) }
            var matcherDiagnostics = DiagnosticCollector()
            let matcher = FlowMatcher.parse(flow, conditions: true, diagnostics: &matcherDiagnostics)
            if !sharesWithRateLimits { diagnostics.append(contentsOf: matcherDiagnostics.diagnostics) }
            for condition in matcher.conditions {
                _ = checkVariables(condition, at: flow.path.key("selectors"), &diagnostics)
            }
            var condition: ExpressionTemplate?
            if let source = flow.condition {
                condition = parse(source, at: flow.path.key("condition"), &diagnostics)
            }
            var steps: [FlowPhase: [Step]] = [:]
            for step in flow.steps where step.enabled {
                guard let spec = FlowPolicies.spec(for: step.policy) else { continue }
                let phase: FlowPhase
                switch step.phase {
                case .request: phase = .request
                case .response: phase = .response
                case .publish: phase = .publish
                case .subscribe: phase = .subscribe
                case .connect, .interact:
                    diagnostics.error(
                        step.path.key("policy"), "the '\(step.phase.rawValue)' phase is not run by this gateway",
                        code: "UNSUPPORTED_PHASE")
                    continue
                }
                guard spec.apiTypes.contains(apiType) else {
                    diagnostics.error(
                        step.path.key("policy"),
                        "'\(step.policy)' runs in \(spec.apiTypes.map(\.rawValue).sorted().joined(separator: " and ")) APIs, not '\(apiType.rawValue)' APIs",
                        code: "UNSUPPORTED_POLICY")
                    continue
                }
                guard spec.phases.contains(phase) else {
                    let allowed = FlowPhase.allCases.filter(spec.phases.contains).map(\.rawValue)
                    diagnostics.error(
                        step.path.key("policy"),
                        "'\(step.policy)' runs in the \(allowed.joined(separator: ", ")) phases, not '\(phase.rawValue)'",
                        code: "UNSUPPORTED_PHASE")
                    continue
                }
                var stepCondition: ExpressionTemplate?
                if let source = step.condition {
                    stepCondition = parse(source, at: step.path.key("condition"), &diagnostics)
                }
                var messageCondition: ExpressionTemplate?
                if let source = step.messageCondition, !source.allSatisfy(\.isWhitespace) {
                    if phase.isMessagePhase {
                        messageCondition = parse(source, at: step.path.key("messageCondition"), &diagnostics)
                    } else {
                        diagnostics.warning(
                            step.path.key("messageCondition"),
                            "a message condition has no message to look at in the '\(phase.rawValue)' phase: ignored")
                    }
                }
                guard
                    let policy = spec.parse(
                        ConfigurationReader(step.configuration, at: step.path.key("configuration")), phase,
                        &diagnostics)
                else { continue }
                steps[phase, default: []].append(
                    Step(
                        policy: policy, policyID: step.policy, condition: stepCondition,
                        messageCondition: messageCondition, location: step.path.text))
                phases.insert(phase)
            }
            compiled.append(Flow(name: flow.name, matcher: matcher, condition: condition, steps: steps))
        }
        return compiled
    }

    /// Parses a condition or a template once at deploy; reports a syntax error with its column, and refuses a
    /// variable this gateway does not have (`#node`, `#dictionaries`, …). Nil when blank or refused.
    static func parse(
        _ source: String, at path: JSONPath, _ diagnostics: inout DiagnosticCollector
    ) -> ExpressionTemplate? {
        guard let template = FlowMatcher.parseCondition(source, at: path, &diagnostics) else { return nil }
        guard checkVariables(template, at: path, &diagnostics) else { return nil }
        return template
    }

    /// Parses a policy's templated field (a header value, an attribute, a filter); nil with a diagnostic when it
    /// does not parse or names an unknown variable. Plain text is a template of one text part.
    public static func parseTemplate(
        _ source: String, at path: JSONPath, _ diagnostics: inout DiagnosticCollector
    ) -> ExpressionTemplate? {
        do {
            let template = try ExpressionParser().parseTemplate(source)
            guard checkVariables(template, at: path, &diagnostics) else { return nil }
            return template
        } catch {
            diagnostics.error(path, "expression does not parse: \(error)", code: "INVALID_EXPRESSION")
            return nil
        }
    }

    static func checkVariables(
        _ template: ExpressionTemplate, at path: JSONPath, _ diagnostics: inout DiagnosticCollector
    ) -> Bool {
        var unknown = Set<String>()
        for part in template.parts {
            if case .expression(let expression) = part { collectVariables(expression, into: &unknown) }
        }
        unknown.subtract(variables)
        guard unknown.isEmpty else {
            diagnostics.error(
                path,
                "expression names \(unknown.sorted().map { "#\($0)" }.joined(separator: ", ")), which this gateway does not provide (it has #\(variables.sorted().joined(separator: ", #")))",
                code: "UNSUPPORTED_EXPRESSION")
            return false
        }
        return true
    }

    private static func collectVariables(_ expression: Expression, into names: inout Set<String>) {
        switch expression {
        case .literal: break
        case .variable(let name): names.insert(name)
        case .member(let target, _, _): collectVariables(target, into: &names)
        case .index(let target, let key, _):
            collectVariables(target, into: &names)
            collectVariables(key, into: &names)
        case .method(let target, _, let arguments, _):
            collectVariables(target, into: &names)
            for argument in arguments { collectVariables(argument, into: &names) }
        case .function(_, let arguments), .list(let arguments):
            for argument in arguments { collectVariables(argument, into: &names) }
        case .unary(_, let operand): collectVariables(operand, into: &names)
        case .binary(_, let left, let right), .elvis(let left, let right):
            collectVariables(left, into: &names)
            collectVariables(right, into: &names)
        case .conditional(let condition, let then, let otherwise):
            collectVariables(condition, into: &names)
            collectVariables(then, into: &names)
            collectVariables(otherwise, into: &names)
        }
    }

    /// Starts a request: picks the flows its path, method and entrypoint select, and returns what runs its
    /// phases.
    ///
    /// The flows' conditions (`condition` selectors, a flow's `condition`) are evaluated as Gravitee does: in
    /// `DEFAULT` mode each one when the request phase reaches its flow, so it sees what the earlier flows' steps
    /// did (an attribute set behind a `latency` step, a header removed); the flows picked then serve the later
    /// phases without being evaluated again. In `BEST_MATCH` mode they are evaluated here, to choose the flow.
    public func start(_ request: FlowRequest, evaluator: ExpressionEvaluator = ExpressionEvaluator()) -> FlowRun {
        let path = Substring(request.path)
        func matching(_ flows: [Flow]) -> [Flow] {
            flows.filter { flow in
                flow.matcher.matches(
                    path: path, method: request.method, entrypoint: request.entrypoint, operations: request.operations)
            }
        }
        var candidates = matching(planFlows[request.plan] ?? []) + matching(apiFlows)
        var resolved: [Flow]?
        if mode == .bestMatch {
            let scope = FlowRun.baseScope(
                request: RequestExpressionObject(request), api: api, attributes: [:],
                subscription: request.subscription)
            func best(_ flows: [Flow]) -> [Flow] {
                let held = matching(flows).filter { Self.conditionsHold($0, scope, evaluator) }
                return Self.bestMatch(held, path: request.path).map { [$0] } ?? []
            }
            candidates = best(planFlows[request.plan] ?? []) + best(apiFlows)
            resolved = candidates
        }
        var parameters: [(name: String, value: String)] = []
        for flow in candidates { parameters += flow.matcher.pathPattern?.parameters(in: path) ?? [] }
        return FlowRun(
            engine: self, request: request, candidates: candidates, resolved: resolved, pathParameters: parameters,
            matchRequired: matchRequired, evaluator: evaluator)
    }

    /// The answer when `matchRequired` is set and no flow applies.
    static let noFlowMatched = GatewayError(
        status: 404, key: "FLOW_EXECUTION_FLOW_MATCHED_FAILURE", message: "No flow matches the request.")

    /// Whether a flow's conditions (its `condition` selectors and its own `condition`) hold in `scope`.
    static func conditionsHold(_ flow: Flow, _ scope: ExpressionScope, _ evaluator: ExpressionEvaluator) -> Bool {
        for condition in flow.matcher.conditions where !holds(condition, scope, evaluator) { return false }
        if let condition = flow.condition, !holds(condition, scope, evaluator) { return false }
        return true
    }

    /// Whether a condition holds: true, or text that Spring's conversion reads as true (`"true "`, with the
    /// blank Gravitee's fixtures leave after the closing brace). An evaluation error is false.
    static func holds(
        _ condition: ExpressionTemplate, _ scope: ExpressionScope, _ evaluator: ExpressionEvaluator
    )
        -> Bool
    {
        guard let value = try? evaluator.evaluate(condition, in: scope) else { return false }
        return isTrue(value)
    }

    static func isTrue(_ value: ExpressionValue) -> Bool {
        switch value {
        case .bool(let bool): return bool
        case .string(let text):
            return ["true", "on", "yes", "1"].contains(text.trimmingCharacters(in: .whitespaces).lowercased())
        default: return false
        }
    }
}
