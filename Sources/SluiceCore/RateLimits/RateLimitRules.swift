/// The `rate-limit`, `quota` and `spike-arrest` steps of an API's flows, ready to apply to requests: those of plan
/// flows (`plans[].flows[]`, for requests the plan serves) and of API flows (`flows[]`), in the `request` phase
/// (once per request: a POST, a GET poll, an SSE connection, a WebSocket upgrade) and in the `publish` phase (once
/// per published message: a POST's body, each WebSocket message a client sends).
///
/// Flows run as Gravitee's `DEFAULT` flow execution runs them: every enabled flow whose selectors match, plan
/// flows first, then API flows, each in the definition's order, and within a phase each step in order; the first
/// step that refuses stops the rest (their counters are not touched). A general flow engine (conditions,
/// expressions, other policies) comes later; what it would need is refused at deploy, with its JSON path.
public struct RateLimitRules: Sendable {
    public enum Phase: String, Sendable, CaseIterable {
        case request
        case publish
    }

    public struct Step: Sendable {
        public var policy: RateLimitPolicy
        public var phase: Phase
        /// The plan whose flow holds the step; nil for an API flow.
        public var plan: String?
        public var matcher: FlowMatcher
        /// Where the step is in the definition (`plans[0].flows[1].request[0]`): each step keeps counters of its
        /// own.
        public var location: String
    }

    public private(set) var steps: [Step] = []

    public var isEmpty: Bool { steps.isEmpty }

    /// Whether `policy` names one of the policies this applies.
    public static func handles(_ policy: String) -> Bool { RateLimitPolicy.Kind(rawValue: policy) != nil }

    /// Reads the steps of `definition`, reporting by JSON path each one that cannot run as written.
    public init(_ definition: APIDefinition, diagnostics: inout DiagnosticCollector) {
        for plan in definition.plans {
            read(plan.flows, plan: plan.id, &diagnostics)
        }
        read(definition.flows, plan: nil, &diagnostics)
        guard !steps.isEmpty else { return }
        if definition.flowExecution.mode != .default {
            diagnostics.error(
                JSONPath("flowExecution").key("mode"),
                "only DEFAULT flow execution runs rate-limit, quota and spike-arrest steps yet",
                code: "UNSUPPORTED_VALUE")
        }
        if definition.flowExecution.matchRequired {
            diagnostics.error(
                JSONPath("flowExecution").key("matchRequired"), "is not supported yet", code: "UNSUPPORTED_VALUE")
        }
    }

    private mutating func read(
        _ flows: [APIDefinition.Flow], plan: String?, _ diagnostics: inout DiagnosticCollector
    ) {
        for flow in flows where flow.enabled {
            let ours = flow.steps.filter { $0.enabled && Self.handles($0.policy) }
            guard !ours.isEmpty else { continue }
            if let condition = flow.condition, !condition.allSatisfy(\.isWhitespace) {
                diagnostics.error(
                    flow.path.key("condition"),
                    "conditions are not evaluated yet (no expression language): this flow's rate-limit, quota and spike-arrest steps cannot run",
                    code: "UNSUPPORTED_EXPRESSION")
            }
            let matcher = FlowMatcher.parse(flow, diagnostics: &diagnostics)
            for step in ours {
                guard let kind = RateLimitPolicy.Kind(rawValue: step.policy) else { continue }
                let phase: Phase
                switch step.phase {
                case .request: phase = .request
                case .publish: phase = .publish
                default:
                    diagnostics.error(
                        step.path.key("policy"),
                        "'\(step.policy)' runs in the request and publish phases only, not '\(step.phase.rawValue)'",
                        code: "UNSUPPORTED_PHASE")
                    continue
                }
                for (field, value) in [("condition", step.condition), ("messageCondition", step.messageCondition)] {
                    if let value, !value.allSatisfy(\.isWhitespace) {
                        diagnostics.error(
                            step.path.key(field),
                            "conditions are not evaluated yet (no expression language): this step cannot run",
                            code: "UNSUPPORTED_EXPRESSION")
                    }
                }
                guard
                    let policy = RateLimitPolicy.parse(
                        kind: kind, configuration: step.configuration, at: step.path.key("configuration"),
                        diagnostics: &diagnostics)
                else { continue }
                steps.append(
                    Step(policy: policy, phase: phase, plan: plan, matcher: matcher, location: step.path.text))
            }
        }
    }

    /// The steps that apply to `request` in `phases` (in that order), with their counters' keys.
    public func gate(_ phases: [Phase], for request: RateLimitRequest) -> RateLimitGate {
        var selected: [RateLimitGate.Entry] = []
        for phase in phases {
            for step in steps where step.phase == phase && (step.plan == nil || step.plan == request.plan.id) {
                guard
                    step.matcher.matches(
                        path: request.path, method: request.method, entrypoint: request.entrypoint,
                        operations: request.operations)
                else { continue }
                selected.append(.init(policy: step.policy, key: Self.counterKey(step, request)))
            }
        }
        return RateLimitGate(entries: selected)
    }

    /// Separates the parts of a counter's key; no identifier in a definition or an access file holds it unescaped.
    static let separator = "\u{1F}"

    /// A counter's key. By default: the API, the plan and the subscription (for a key-less plan, the client's
    /// address, as Gravitee's key-less plan sets it), the step's fixed `key` if any, the policy, and the step's
    /// place in the definition. With `useKeyOnly`, only the fixed key and the policy: every step of that policy
    /// naming the same key, on any API of this gateway, shares the counter (as in Gravitee).
    static func counterKey(_ step: Step, _ request: RateLimitRequest) -> String {
        let tag = step.policy.kind.keyTag
        if step.policy.useKeyOnly, let key = step.policy.key {
            return [key, tag].joined(separator: separator)
        }
        let consumer = request.plan.subscription ?? request.clientAddress ?? "unknown"
        return [request.api, request.plan.id, consumer, step.policy.key ?? "", tag, step.location]
            .joined(separator: separator)
    }
}
