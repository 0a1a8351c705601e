/// The policies the flow engine runs, by the ids Gravitee's definitions use, with the phases each runs in and how
/// its configuration is read (Gravitee's field names).
public enum FlowPolicies {
    public struct Spec: Sendable {
        public var phases: Set<FlowPhase>
        /// The kinds of API the policy runs in (Gravitee offers `mock` to proxy APIs only).
        public var apiTypes: Set<APIDefinition.APIType> = [.message, .proxy]
        /// Reads a step's configuration for `phase`; nil (with diagnostics) when it cannot run as written.
        public var parse: @Sendable (ConfigurationReader, FlowPhase, inout DiagnosticCollector) -> (any FlowPolicy)?
    }

    static let messagePhases: Set<FlowPhase> = [.publish, .subscribe]
    static let allPhases = Set(FlowPhase.allCases)

    /// Gravitee's plugin ids first; the second names are the ones Gravitee's documentation and some of its
    /// fixtures use (`assign-attributes` in the Kafka override-topic fixture).
    static let specs: [String: Spec] = {
        var specs: [String: Spec] = [:]
        let messageFiltering = Spec(phases: messagePhases, parse: MessageFilteringPolicy.parse)
        let transformHeaders = Spec(phases: allPhases, parse: TransformHeadersPolicy.parse)
        let assignAttributes = Spec(phases: allPhases, parse: AssignAttributesPolicy.parse)
        let assignContent = Spec(phases: messagePhases, parse: AssignContentPolicy.parse)
        let jsonToXML = Spec(phases: messagePhases, parse: JSONToXMLPolicy.parse)
        let xmlToJSON = Spec(phases: messagePhases, parse: XMLToJSONPolicy.parse)
        let jsonValidation = Spec(phases: messagePhases, parse: JSONValidationPolicy.parse)
        let cloudEvents = Spec(phases: messagePhases, parse: CloudEventsPolicy.parse)
        let latency = Spec(phases: allPhases, parse: LatencyPolicy.parse)
        let mock = Spec(phases: [.request], apiTypes: [.proxy], parse: MockPolicy.parse)
        for (ids, spec) in [
            (["message-filtering"], messageFiltering),
            (["transform-headers"], transformHeaders),
            (["policy-assign-attributes", "assign-attributes"], assignAttributes),
            (["policy-assign-content", "assign-content"], assignContent),
            (["json-xml", "json-to-xml"], jsonToXML),
            (["xml-json", "xml-to-json"], xmlToJSON),
            (["json-validation"], jsonValidation),
            (["cloud-events"], cloudEvents),
            (["latency"], latency),
            (["mock", "policy-mock"], mock),
        ] {
            for id in ids { specs[id] = spec }
        }
        return specs
    }()

    /// Every policy id the engine runs.
    public static var ids: Set<String> { Set(specs.keys) }

    public static func spec(for id: String) -> Spec? { specs[id] }

    /// Reads Gravitee's `[{ "name": …, "value": … }]` lists whose values are templates.
    static func namedTemplates(
        _ reader: ConfigurationReader, _ key: String, _ diagnostics: inout DiagnosticCollector
    ) -> [(name: String, value: ExpressionTemplate)] {
        var result: [(name: String, value: ExpressionTemplate)] = []
        for (item, itemPath) in reader.array(key, &diagnostics) {
            let entry = ConfigurationReader(item, at: itemPath, diagnostics: &diagnostics)
            entry.warnUnknown(["name", "value"], &diagnostics)
            // Gravitee skips entries without a name or a value.
            guard let name = entry.string("name", &diagnostics), !name.trimmingCharacters(in: .whitespaces).isEmpty,
                let source = entry.string("value", &diagnostics)
            else { continue }
            if let template = FlowEngine.parseTemplate(source, at: itemPath.key("value"), &diagnostics) {
                result.append((name, template))
            }
        }
        return result
    }

    /// Reads a list of strings.
    static func strings(
        _ reader: ConfigurationReader, _ key: String, _ diagnostics: inout DiagnosticCollector
    ) -> [String] {
        reader.array(key, &diagnostics).compactMap { value, path in
            guard let text = value.stringValue else {
                diagnostics.error(path, "must be a string")
                return nil
            }
            return text
        }
    }
}
