import Foundation

/// Reads the structure of a Gravitee v4 API definition from its JSON tree, reporting every problem found.
///
/// This checks the shape that every v4 definition shares. What each connector, policy or plan type accepts is
/// checked afterwards against a ``DefinitionCatalog``.
public struct APIDefinitionReader: Sendable {
    public init() {}

    /// Reads `value`. The definition is nil only when `value` is not an object; check the diagnostics for errors.
    public func read(_ value: JSONValue) -> (definition: APIDefinition?, diagnostics: [Diagnostic]) {
        var diagnostics = DiagnosticCollector()
        guard case .object(let document) = value else {
            diagnostics.error(JSONPath(), "an API definition must be a JSON object, found \(value.typeName)")
            return (nil, diagnostics.diagnostics)
        }
        let root = ConfigurationReader(document, at: JSONPath())
        let id = root.string("id", &diagnostics, required: true) ?? ""
        let name = root.string("name", &diagnostics) ?? id
        let definitionVersion = root.string("definitionVersion", &diagnostics) ?? "4.0.0"
        if !definitionVersion.hasPrefix("4") {
            diagnostics.error(
                JSONPath("definitionVersion"),
                "definition version '\(definitionVersion)' is not supported; only v4 definitions are",
                code: "UNSUPPORTED_DEFINITION_VERSION"
            )
        }
        // Gravitee's exported definitions wrap the API in `{"api": {...}, "plans": [...]}` in some places; the
        // gateway format is the bare API, which is what is read here.
        var type = APIDefinition.APIType.message
        if let typeText = root.string("type", &diagnostics, required: true) {
            if let parsed = APIDefinition.APIType(rawValue: typeText.lowercased()) {
                type = parsed
            } else {
                diagnostics.unsupported(JSONPath("type"), kind: "API", type: typeText)
            }
        }
        if !id.isEmpty, id.contains(where: { $0 == "/" || $0.isWhitespace }) {
            diagnostics.error(JSONPath("id"), "must not contain '/' or whitespace")
        }

        let listeners = readListeners(root, &diagnostics)
        for listener in listeners {
            guard type == .message, case .http(let http) = listener, http.cors?.runPolicies == true else { continue }
            diagnostics.warning(
                JSONPath("listeners").index(http.index).key("cors").key("runPolicies"),
                "preflight requests of message APIs are answered without running flows")
        }
        let endpointGroups = readEndpointGroups(root, &diagnostics)
        let flows = readFlows(root.array("flows", &diagnostics), &diagnostics)
        let flowExecution = readFlowExecution(root.object("flowExecution", &diagnostics), &diagnostics)
        let plans = readPlans(root, &diagnostics)
        let properties = readProperties(root, &diagnostics)
        let resources = readResources(root, &diagnostics)
        var analytics: JSONValue?
        if let value = document["analytics"], !value.isNull {
            if case .object = value {
                analytics = value
            } else {
                diagnostics.error(JSONPath("analytics"), "must be an object, found \(value.typeName)")
            }
        }

        // The definition is returned even when problems were found, so that type-specific checks can report
        // theirs too; callers deploy only definitions without errors.
        let definition = APIDefinition(
            id: id, name: name, apiVersion: root.string("apiVersion", &diagnostics),
            definitionVersion: definitionVersion, type: type, description: root.string("description", &diagnostics),
            listeners: listeners, endpointGroups: endpointGroups, flows: flows, flowExecution: flowExecution,
            plans: plans, analytics: analytics, properties: properties, resources: resources, document: document
        )
        return (definition, diagnostics.diagnostics)
    }

    // MARK: Listeners

    func readListeners(
        _ root: ConfigurationReader, _ diagnostics: inout DiagnosticCollector
    ) -> [APIDefinition.Listener] {
        let items = root.array("listeners", &diagnostics)
        if items.isEmpty {
            diagnostics.error(JSONPath("listeners"), "at least one listener is required", code: "MISSING_FIELD")
        }
        var result: [APIDefinition.Listener] = []
        for (index, (item, path)) in items.enumerated() {
            let listener = ConfigurationReader(item, at: path, diagnostics: &diagnostics)
            guard let type = listener.string("type", &diagnostics, required: true) else { continue }
            let entrypoints = readEntrypoints(listener, &diagnostics)
            switch type.lowercased() {
            case "http":
                var paths: [APIDefinition.ListenerPath] = []
                let pathItems = listener.array("paths", &diagnostics)
                if pathItems.isEmpty {
                    diagnostics.error(
                        path.key("paths"), "an http listener needs at least one path", code: "MISSING_FIELD")
                }
                for (pathItem, pathPath) in pathItems {
                    let reader = ConfigurationReader(pathItem, at: pathPath, diagnostics: &diagnostics)
                    guard let raw = reader.string("path", &diagnostics, required: true) else { continue }
                    guard let normalised = Self.normaliseListenerPath(raw) else {
                        diagnostics.error(pathPath.key("path"), "'\(raw)' is not a valid context path")
                        continue
                    }
                    var host = reader.string("host", &diagnostics)
                    if let h = host, h.isEmpty { host = nil }
                    let listenerPath = APIDefinition.ListenerPath(
                        host: host?.lowercased(), path: normalised,
                        overrideAccess: reader.bool("overrideAccess", &diagnostics) ?? false
                    )
                    if paths.contains(listenerPath) {
                        diagnostics.error(pathPath, "duplicate listener path '\(normalised)'")
                    }
                    paths.append(listenerPath)
                }
                let cors = CORSConfiguration.parse(listener.object("cors", &diagnostics), diagnostics: &diagnostics)
                result.append(.http(.init(paths: paths, entrypoints: entrypoints, cors: cors, index: index)))
            case "subscription":
                result.append(.subscription(.init(entrypoints: entrypoints, index: index)))
            default:
                diagnostics.unsupported(path.key("type"), kind: "listener", type: type)
            }
        }
        return result
    }

    /// `/test/`, `test` and `/test` are one context path; a path with `..`, `//`, whitespace or a query is refused.
    public static func normaliseListenerPath(_ raw: String) -> String? {
        var path = raw.trimmingCharacters(in: .whitespaces)
        if path.isEmpty { return nil }
        if !path.hasPrefix("/") { path = "/" + path }
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        if path.contains("//") || path.contains("?") || path.contains("#") || path.contains(where: \.isWhitespace) {
            return nil
        }
        if path.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) { return nil }
        return path
    }

    func readEntrypoints(
        _ listener: ConfigurationReader, _ diagnostics: inout DiagnosticCollector
    ) -> [APIDefinition.Entrypoint] {
        let items = listener.array("entrypoints", &diagnostics)
        if items.isEmpty {
            diagnostics.error(
                listener.path.key("entrypoints"), "at least one entrypoint is required", code: "MISSING_FIELD")
        }
        var result: [APIDefinition.Entrypoint] = []
        for (item, path) in items {
            let reader = ConfigurationReader(item, at: path, diagnostics: &diagnostics)
            guard let type = reader.string("type", &diagnostics, required: true) else { continue }
            var qos = MessageQoS.auto
            if let qosText = reader.string("qos", &diagnostics) {
                if let parsed = MessageQoS(lenient: qosText) {
                    qos = parsed
                } else {
                    diagnostics.error(path.key("qos"), "must be one of none, auto, at-most-once, at-least-once")
                }
            }
            let configuration = reader.object("configuration", &diagnostics).object
            if result.contains(where: { $0.type == type }) {
                diagnostics.error(path.key("type"), "entrypoint '\(type)' is declared twice in this listener")
            }
            var dlqEndpoint: String?
            if reader.has("dlq") {
                let dlq = reader.object("dlq", &diagnostics)
                dlq.warnUnknown(["endpoint"], &diagnostics)
                dlqEndpoint = dlq.string("endpoint", &diagnostics, required: true)
            }
            result.append(
                .init(type: type, qos: qos, configuration: configuration, path: path, dlqEndpoint: dlqEndpoint))
        }
        return result
    }

    // MARK: Endpoints

    func readEndpointGroups(
        _ root: ConfigurationReader, _ diagnostics: inout DiagnosticCollector
    ) -> [APIDefinition.EndpointGroup] {
        let items = root.array("endpointGroups", &diagnostics)
        if items.isEmpty {
            diagnostics.error(
                JSONPath("endpointGroups"), "at least one endpoint group is required", code: "MISSING_FIELD")
        }
        var groups: [APIDefinition.EndpointGroup] = []
        var endpointNames = Set<String>()
        for (item, path) in items {
            let reader = ConfigurationReader(item, at: path, diagnostics: &diagnostics)
            let name = reader.string("name", &diagnostics, required: true) ?? ""
            let type = reader.string("type", &diagnostics, required: true) ?? ""
            if groups.contains(where: { $0.name == name }) {
                diagnostics.error(path.key("name"), "endpoint group name '\(name)' is used twice")
            }
            var loadBalancer = APIDefinition.LoadBalancer.roundRobin
            let lb = reader.object("loadBalancer", &diagnostics)
            if let lbType = lb.string("type", &diagnostics) {
                if let parsed = APIDefinition.LoadBalancer(
                    rawValue: lbType.uppercased().replacingOccurrences(of: "-", with: "_"))
                {
                    loadBalancer = parsed
                } else {
                    diagnostics.error(
                        lb.path.key("type"),
                        "must be one of ROUND_ROBIN, RANDOM, WEIGHTED_ROUND_ROBIN, WEIGHTED_RANDOM"
                    )
                }
            }
            let shared = reader.object("sharedConfiguration", &diagnostics).object
            var endpoints: [APIDefinition.Endpoint] = []
            let endpointItems = reader.array("endpoints", &diagnostics)
            if endpointItems.isEmpty {
                diagnostics.error(path.key("endpoints"), "at least one endpoint is required", code: "MISSING_FIELD")
            }
            for (endpointItem, endpointPath) in endpointItems {
                let endpoint = ConfigurationReader(endpointItem, at: endpointPath, diagnostics: &diagnostics)
                let endpointName = endpoint.string("name", &diagnostics, required: true) ?? ""
                let endpointType = endpoint.string("type", &diagnostics) ?? type
                if !endpointName.isEmpty, !endpointNames.insert(endpointName).inserted {
                    diagnostics.error(endpointPath.key("name"), "endpoint name '\(endpointName)' is used twice")
                }
                if !type.isEmpty, endpointType != type {
                    diagnostics.error(
                        endpointPath.key("type"),
                        "endpoint type '\(endpointType)' differs from its group's type '\(type)'"
                    )
                }
                let weight = endpoint.integer("weight", &diagnostics, minimum: 1) ?? 1
                endpoints.append(
                    .init(
                        name: endpointName, type: endpointType, weight: Int(weight),
                        inheritConfiguration: endpoint.bool("inheritConfiguration", &diagnostics) ?? false,
                        secondary: endpoint.bool("secondary", &diagnostics) ?? false,
                        configuration: endpoint.object("configuration", &diagnostics).object,
                        sharedConfigurationOverride: endpoint.object("sharedConfigurationOverride", &diagnostics)
                            .object,
                        path: endpointPath
                    )
                )
            }
            groups.append(
                .init(
                    name: name, type: type, loadBalancer: loadBalancer, sharedConfiguration: shared,
                    endpoints: endpoints, path: path
                )
            )
        }
        return groups
    }

    // MARK: Flows

    func readFlows(_ items: [(JSONValue, JSONPath)], _ diagnostics: inout DiagnosticCollector) -> [APIDefinition.Flow] {
        var flows: [APIDefinition.Flow] = []
        for (item, path) in items {
            let reader = ConfigurationReader(item, at: path, diagnostics: &diagnostics)
            var selectors: [JSONObject] = []
            for (selector, selectorPath) in reader.array("selectors", &diagnostics) {
                let s = ConfigurationReader(selector, at: selectorPath, diagnostics: &diagnostics)
                _ = s.string("type", &diagnostics, required: true)
                selectors.append(s.object)
            }
            var steps: [APIDefinition.FlowStep] = []
            for phase in APIDefinition.FlowStep.Phase.allCases {
                for (step, stepPath) in reader.array(phase.rawValue, &diagnostics) {
                    let s = ConfigurationReader(step, at: stepPath, diagnostics: &diagnostics)
                    guard let policy = s.string("policy", &diagnostics, required: true) else { continue }
                    steps.append(
                        .init(
                            phase: phase, name: s.string("name", &diagnostics), policy: policy,
                            enabled: s.bool("enabled", &diagnostics) ?? true,
                            condition: s.string("condition", &diagnostics),
                            messageCondition: s.string("messageCondition", &diagnostics),
                            configuration: s.object("configuration", &diagnostics).object, path: stepPath
                        )
                    )
                }
            }
            flows.append(
                .init(
                    name: reader.string("name", &diagnostics), enabled: reader.bool("enabled", &diagnostics) ?? true,
                    selectors: selectors, condition: reader.string("condition", &diagnostics), steps: steps, path: path
                )
            )
        }
        return flows
    }

    func readFlowExecution(
        _ reader: ConfigurationReader, _ diagnostics: inout DiagnosticCollector
    ) -> APIDefinition.FlowExecution {
        var execution = APIDefinition.FlowExecution()
        if let mode = reader.string("mode", &diagnostics) {
            if let parsed = APIDefinition.FlowExecution.Mode(
                rawValue: mode.uppercased().replacingOccurrences(of: "-", with: "_"))
            {
                execution.mode = parsed
            } else {
                diagnostics.error(reader.path.key("mode"), "must be DEFAULT or BEST_MATCH")
            }
        }
        execution.matchRequired = reader.bool("matchRequired", &diagnostics) ?? false
        return execution
    }

    // MARK: Plans, properties, resources

    func readPlans(_ root: ConfigurationReader, _ diagnostics: inout DiagnosticCollector) -> [APIDefinition.Plan] {
        var plans: [APIDefinition.Plan] = []
        for (item, path) in root.array("plans", &diagnostics) {
            let reader = ConfigurationReader(item, at: path, diagnostics: &diagnostics)
            let id = reader.string("id", &diagnostics) ?? "plan-\(plans.count)"
            let security = reader.object("security", &diagnostics)
            let mode = (reader.string("mode", &diagnostics) ?? "STANDARD").uppercased()
            // A PUSH plan (webhook subscriptions) has no security of its own: its subscribers give the callback.
            let securityType =
                security.string("type", &diagnostics, required: mode != "PUSH") ?? (mode == "PUSH" ? "push" : "")
            var status = APIDefinition.Plan.Status.published
            if let statusText = reader.string("status", &diagnostics) {
                if let parsed = APIDefinition.Plan.Status(rawValue: statusText.uppercased()) {
                    status = parsed
                } else {
                    diagnostics.error(path.key("status"), "must be one of STAGING, PUBLISHED, DEPRECATED, CLOSED")
                }
            }
            var tags: [String] = []
            for (tag, tagPath) in reader.array("tags", &diagnostics) {
                if let t = tag.stringValue { tags.append(t) } else { diagnostics.error(tagPath, "must be a string") }
            }
            let selectionRule = reader.string("selectionRule", &diagnostics)
            if let selectionRule, !selectionRule.trimmingCharacters(in: .whitespaces).isEmpty {
                do {
                    _ = try SecurityChain.parseSelectionRule(selectionRule)
                } catch {
                    diagnostics.error(
                        path.key("selectionRule"), "invalid expression: \(error)", code: "INVALID_EXPRESSION")
                }
            }
            plans.append(
                .init(
                    id: id, name: reader.string("name", &diagnostics) ?? id, securityType: securityType.lowercased(),
                    securityConfiguration: security.object("configuration", &diagnostics).object,
                    mode: mode, status: status,
                    selectionRule: selectionRule, tags: tags,
                    flows: readFlows(reader.array("flows", &diagnostics), &diagnostics), path: path
                )
            )
        }
        return plans
    }

    func readProperties(
        _ root: ConfigurationReader, _ diagnostics: inout DiagnosticCollector
    ) -> [APIDefinition.Property] {
        var properties: [APIDefinition.Property] = []
        for (item, path) in root.array("properties", &diagnostics) {
            let reader = ConfigurationReader(item, at: path, diagnostics: &diagnostics)
            guard let key = reader.string("key", &diagnostics, required: true) else { continue }
            properties.append(
                .init(
                    key: key, value: reader.string("value", &diagnostics) ?? "",
                    encrypted: reader.bool("encrypted", &diagnostics) ?? false
                )
            )
        }
        return properties
    }

    func readResources(
        _ root: ConfigurationReader, _ diagnostics: inout DiagnosticCollector
    ) -> [APIDefinition.Resource] {
        var resources: [APIDefinition.Resource] = []
        for (item, path) in root.array("resources", &diagnostics) {
            let reader = ConfigurationReader(item, at: path, diagnostics: &diagnostics)
            guard let name = reader.string("name", &diagnostics, required: true),
                let type = reader.string("type", &diagnostics, required: true)
            else { continue }
            resources.append(
                .init(
                    name: name, type: type, enabled: reader.bool("enabled", &diagnostics) ?? true,
                    configuration: reader.object("configuration", &diagnostics).object, path: path
                )
            )
        }
        return resources
    }
}
