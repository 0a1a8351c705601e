/// What this gateway supports, by the type names definitions use: entrypoints, endpoints, policies, plans.
///
/// A definition naming anything outside the catalog is refused by name, with the JSON path of the name, so a team
/// moving APIs over sees at once what does not run here yet.
public struct DefinitionCatalog: Sendable {
    public typealias Validate = @Sendable (JSONObject, JSONPath, inout DiagnosticCollector) -> Void

    public struct EntrypointSpec: Sendable {
        public var type: String
        public var apiType: APIDefinition.APIType
        public var listenerType: String
        public var supportedQoS: Set<MessageQoS>
        /// What the entrypoint can do; an endpoint must offer at least one of them.
        public var modes: Set<ConnectorMode>
        public var validate: Validate

        public init(
            type: String, apiType: APIDefinition.APIType = .message, listenerType: String = "http",
            supportedQoS: Set<MessageQoS>, modes: Set<ConnectorMode> = [.publish, .subscribe],
            validate: @escaping Validate
        ) {
            self.type = type
            self.apiType = apiType
            self.listenerType = listenerType
            self.supportedQoS = supportedQoS
            self.modes = modes
            self.validate = validate
        }
    }

    public struct EndpointSpec: Sendable {
        public typealias Modes = @Sendable (APIDefinition.Endpoint, APIDefinition.EndpointGroup) -> Set<ConnectorMode>

        public var type: String
        public var apiType: APIDefinition.APIType
        /// The QoS levels entrypoints may ask of this endpoint.
        public var supportedQoS: Set<MessageQoS>
        /// The QoS levels particular entrypoints may ask instead, by entrypoint type (an MQTT 5 endpoint serves
        /// at-least-once to webhook subscriptions, which keep a session, but not to streams).
        public var supportedQoSByEntrypoint: [String: Set<MessageQoS>]
        /// What an endpoint of this type does as configured (a Kafka endpoint with only its producer enabled
        /// publishes only); nil: both.
        public var modes: Modes?
        /// Validates the endpoint's effective configuration: `configuration`, and the shared configuration it runs
        /// with (see ``APIDefinition/Endpoint/effectiveSharedConfiguration(group:)``).
        public var validate:
            @Sendable (APIDefinition.Endpoint, APIDefinition.EndpointGroup, inout DiagnosticCollector) -> Void

        public init(
            type: String, apiType: APIDefinition.APIType = .message,
            supportedQoS: Set<MessageQoS> = Set(MessageQoS.allCases),
            supportedQoSByEntrypoint: [String: Set<MessageQoS>] = [:], modes: Modes? = nil,
            validate:
                @escaping @Sendable (APIDefinition.Endpoint, APIDefinition.EndpointGroup, inout DiagnosticCollector) ->
                Void
        ) {
            self.type = type
            self.apiType = apiType
            self.supportedQoS = supportedQoS
            self.supportedQoSByEntrypoint = supportedQoSByEntrypoint
            self.modes = modes
            self.validate = validate
        }

        /// The QoS levels an entrypoint of `type` may ask of this endpoint.
        public func supportedQoS(for type: String) -> Set<MessageQoS> {
            supportedQoSByEntrypoint[type] ?? supportedQoS
        }
    }

    public var entrypoints: [String: EntrypointSpec] = [:]
    public var endpoints: [String: EndpointSpec] = [:]
    public var policies: Set<String> = []
    public var securityTypes: Set<String> = []
    public var resourceTypes: Set<String> = []
    /// Checks of what a whole definition of a type holds beyond its connectors (a proxy API's `failover`).
    public var apiValidators: [APIDefinition.APIType: @Sendable (APIDefinition, inout DiagnosticCollector) -> Void] =
        [:]

    public init() {}

    public mutating func register(_ spec: EntrypointSpec) { entrypoints[spec.type] = spec }
    public mutating func register(_ spec: EndpointSpec) { endpoints[spec.type] = spec }

    /// Checks everything type-specific in `definition`; returns every problem found.
    public func validate(_ definition: APIDefinition) -> [Diagnostic] {
        var diagnostics = DiagnosticCollector()
        var httpEntrypointCount = 0
        for listener in definition.listeners {
            let entrypoints: [APIDefinition.Entrypoint]
            let listenerType: String
            switch listener {
            case .http(let http):
                entrypoints = http.entrypoints
                listenerType = "http"
                httpEntrypointCount += http.entrypoints.count
            case .subscription(let subscription):
                entrypoints = subscription.entrypoints
                listenerType = "subscription"
            }
            for entrypoint in entrypoints {
                guard let spec = self.entrypoints[entrypoint.type] else {
                    diagnostics.unsupported(entrypoint.path.key("type"), kind: "entrypoint", type: entrypoint.type)
                    continue
                }
                if spec.listenerType != listenerType {
                    diagnostics.error(
                        entrypoint.path.key("type"),
                        "entrypoint '\(entrypoint.type)' belongs in a '\(spec.listenerType)' listener, not '\(listenerType)'"
                    )
                }
                if spec.apiType != definition.type {
                    diagnostics.error(
                        entrypoint.path.key("type"),
                        "entrypoint '\(entrypoint.type)' serves '\(spec.apiType.rawValue)' APIs, not '\(definition.type.rawValue)'"
                    )
                }
                if !spec.supportedQoS.contains(entrypoint.qos) {
                    let allowed = MessageQoS.allCases.filter(spec.supportedQoS.contains).map(\.rawValue)
                    diagnostics.error(
                        entrypoint.path.key("qos"),
                        "qos '\(entrypoint.qos.rawValue)' is not supported by entrypoint '\(entrypoint.type)' (supported: \(allowed.joined(separator: ", ")))",
                        code: "UNSUPPORTED_QOS"
                    )
                }
                spec.validate(entrypoint.configuration, entrypoint.path.key("configuration"), &diagnostics)
            }
        }
        validateEntrypointsAgainstEndpoint(definition, &diagnostics)
        validateDeadLetterQueues(definition, &diagnostics)
        for group in definition.endpointGroups {
            guard let spec = endpoints[group.type] else {
                diagnostics.unsupported(group.path.key("type"), kind: "endpoint", type: group.type)
                continue
            }
            if spec.apiType != definition.type {
                diagnostics.error(
                    group.path.key("type"),
                    "endpoint '\(group.type)' serves '\(spec.apiType.rawValue)' APIs, not '\(definition.type.rawValue)'"
                )
            }
            for endpoint in group.endpoints {
                spec.validate(endpoint, group, &diagnostics)
            }
        }
        validateFlows(definition.flows, &diagnostics)
        for plan in definition.plans {
            if plan.isPush {
                if !securityTypes.contains("push") {
                    diagnostics.unsupported(plan.path.key("mode"), kind: "plan mode", type: "PUSH")
                }
            } else if !securityTypes.contains(plan.securityType) {
                diagnostics.unsupported(
                    plan.path.key("security").key("type"), kind: "plan security", type: plan.securityType)
            } else {
                let path = plan.path.key("security").key("configuration")
                switch plan.securityType {
                case "jwt":
                    _ = JWTPlanConfiguration.parse(plan.securityConfiguration, at: path, diagnostics: &diagnostics)
                case "oauth2":
                    _ = OAuth2PlanConfiguration.parse(
                        plan.securityConfiguration, at: path, resources: definition.resources,
                        diagnostics: &diagnostics)
                default:
                    break
                }
            }
            validateFlows(plan.flows, &diagnostics)
        }
        // The rate-limit, quota and spike-arrest steps (when this catalog runs them): what they and their flows
        // need that cannot run yet.
        if RateLimitPolicy.Kind.allCases.contains(where: { policies.contains($0.rawValue) }) {
            _ = RateLimitRules(definition, diagnostics: &diagnostics)
        }
        // The other steps, when this catalog runs the flow engine's policies: configurations, expressions (parsed
        // once, a syntax error named with its column), phases.
        if !policies.isDisjoint(with: FlowPolicies.ids) {
            _ = FlowEngine(definition, diagnostics: &diagnostics)
        }
        apiValidators[definition.type]?(definition, &diagnostics)
        for resource in definition.resources {
            if !resourceTypes.contains(resource.type) {
                diagnostics.unsupported(resource.path.key("type"), kind: "resource", type: resource.type)
            } else if resource.type == OAuth2ResourceConfiguration.type {
                _ = OAuth2ResourceConfiguration.parse(resource, diagnostics: &diagnostics)
            }
        }
        return diagnostics.diagnostics
    }

    /// Each entrypoint against the endpoint that serves it (the first group's): a QoS the endpoint supports, and
    /// something to do (a publish-only entrypoint needs an endpoint that publishes, a subscribe-only one an
    /// endpoint that subscribes).
    private func validateEntrypointsAgainstEndpoint(
        _ definition: APIDefinition, _ diagnostics: inout DiagnosticCollector
    ) {
        guard let group = definition.endpointGroups.first, let endpointSpec = endpoints[group.type] else { return }
        var endpointModes: Set<ConnectorMode> = []
        for endpoint in group.endpoints where !endpoint.secondary {
            endpointModes.formUnion(endpointSpec.modes?(endpoint, group) ?? Set(ConnectorMode.allCases))
        }
        for entrypoint in definition.httpEntrypoints + definition.subscriptionEntrypoints {
            guard let spec = entrypoints[entrypoint.type] else { continue }
            let endpointQoS = endpointSpec.supportedQoS(for: entrypoint.type)
            if spec.supportedQoS.contains(entrypoint.qos), !endpointQoS.contains(entrypoint.qos) {
                let allowed = MessageQoS.allCases.filter(endpointQoS.contains).map(\.rawValue)
                diagnostics.error(
                    entrypoint.path.key("qos"),
                    "qos '\(entrypoint.qos.rawValue)' is not supported by endpoint '\(group.type)' (supported: \(allowed.joined(separator: ", ")))",
                    code: "UNSUPPORTED_QOS"
                )
            }
            if !endpointModes.isEmpty, spec.modes.isDisjoint(with: endpointModes) {
                let needed = spec.modes.map(\.rawValue).sorted().joined(separator: " or ")
                diagnostics.error(
                    entrypoint.path.key("type"),
                    "entrypoint '\(entrypoint.type)' needs an endpoint that can \(needed); the '\(group.type)' endpoint as configured cannot",
                    code: "UNSUPPORTED_MODE"
                )
            }
        }
    }

    /// An entrypoint's `dlq.endpoint` names an endpoint or endpoint group of the API that can publish.
    private func validateDeadLetterQueues(_ definition: APIDefinition, _ diagnostics: inout DiagnosticCollector) {
        for entrypoint in definition.httpEntrypoints + definition.subscriptionEntrypoints {
            guard let name = entrypoint.dlqEndpoint else { continue }
            let path = entrypoint.path.key("dlq").key("endpoint")
            guard let target = Self.deadLetterTarget(name, in: definition) else {
                diagnostics.error(
                    path, "names no endpoint or endpoint group of this API: '\(name)'", code: "UNKNOWN_ENDPOINT")
                continue
            }
            guard let spec = endpoints[target.group.type] else { continue }
            let modes = spec.modes?(target.endpoint, target.group) ?? Set(ConnectorMode.allCases)
            if !modes.contains(.publish) {
                diagnostics.error(
                    path, "the '\(target.group.type)' endpoint '\(target.endpoint.name)' cannot publish",
                    code: "UNSUPPORTED_MODE")
            }
        }
    }

    /// The endpoint a `dlq.endpoint` names: an endpoint by name, else the first endpoint of a group by name.
    public static func deadLetterTarget(
        _ name: String, in definition: APIDefinition
    ) -> (endpoint: APIDefinition.Endpoint, group: APIDefinition.EndpointGroup)? {
        for group in definition.endpointGroups {
            if let endpoint = group.endpoints.first(where: { $0.name == name }) { return (endpoint, group) }
        }
        for group in definition.endpointGroups where group.name == name {
            if let endpoint = group.endpoints.first { return (endpoint, group) }
        }
        return nil
    }

    private func validateFlows(_ flows: [APIDefinition.Flow], _ diagnostics: inout DiagnosticCollector) {
        for flow in flows {
            for step in flow.steps where !policies.contains(step.policy) {
                diagnostics.unsupported(step.path.key("policy"), kind: "policy", type: step.policy)
            }
        }
    }
}
