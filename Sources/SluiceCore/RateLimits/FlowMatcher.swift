/// Which requests a flow applies to, from its `http` and `channel` selectors (every selector must match; a flow
/// without selectors matches everything). `condition` selectors are parsed into ``conditions`` for the flow engine,
/// which evaluates them against the request (see ``FlowEngine``); readers that cannot evaluate them (the
/// rate-limit steps' own pass) refuse them at deploy.
public struct FlowMatcher: Sendable {
    public enum Operator: Sendable {
        /// The pattern's segments are the first segments of the path.
        case startsWith
        /// The pattern's segments are the path's segments.
        case equals
    }

    /// A path as a flow names it: `/books/:bookId` has a literal and a parameter that matches any one segment.
    public struct PathPattern: Sendable {
        enum Segment: Sendable, Equatable {
            case literal(Substring)
            case parameter
        }

        let segments: [Segment]
        /// The pattern as written, for best-match scoring.
        public let text: String

        public init(_ text: String) {
            self.text = text
            segments = text.split(separator: "/").map { $0.hasPrefix(":") ? .parameter : .literal($0) }
        }

        /// The values of the pattern's `:name` segments in `path` (which it matches).
        public func parameters(in path: Substring) -> [(name: String, value: String)] {
            var found: [(name: String, value: String)] = []
            let names = text.split(separator: "/")
            for (index, part) in path.split(separator: "/").enumerated() where index < segments.count {
                if segments[index] == .parameter { found.append((String(names[index].dropFirst()), String(part))) }
            }
            return found
        }

        public func matches(_ path: Substring, operator: Operator) -> Bool {
            var index = 0
            for part in path.split(separator: "/") {
                guard index < segments.count else { return `operator` == .startsWith }
                if case .literal(let literal) = segments[index], literal != part { return false }
                index += 1
            }
            return index == segments.count
        }
    }

    enum Selector: Sendable {
        case http(path: PathPattern, operator: Operator, methods: Set<String>)
        case channel(
            channel: PathPattern, operator: Operator, operations: Set<ConnectorMode>, entrypoints: Set<String>)
    }

    var selectors: [Selector] = []
    /// The `condition` selectors' expressions, parsed once (only when the reader asked for them).
    public private(set) var conditions: [ExpressionTemplate] = []

    public static let any = FlowMatcher()

    /// The path pattern of the flow's first `http` or `channel` selector: what best-match compares; nil when none.
    public var pathPattern: PathPattern? {
        for selector in selectors {
            switch selector {
            case .http(let path, _, _): return path
            case .channel(let channel, _, _, _): return channel
            }
        }
        return nil
    }

    /// Whether a request on `path` (relative to the API's context path) matches.
    /// - Parameters:
    ///   - operations: what the entrypoint serving the request does (publish for `http-post`, subscribe for
    ///     `http-get` and `sse`, either for `websocket`).
    public func matches(
        path: Substring, method: String, entrypoint: String, operations: Set<ConnectorMode>
    ) -> Bool {
        for selector in selectors {
            switch selector {
            case .http(let pattern, let op, let methods):
                guard methods.isEmpty || methods.contains(method), pattern.matches(path, operator: op) else {
                    return false
                }
            case .channel(let pattern, let op, let wanted, let entrypoints):
                guard entrypoints.isEmpty || entrypoints.contains(entrypoint),
                    wanted.isEmpty || !wanted.isDisjoint(with: operations),
                    pattern.matches(path, operator: op)
                else { return false }
            }
        }
        return true
    }

    static let httpMethods: Set<String> = [
        "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "OTHER",
    ]

    /// Reads a flow's selectors, reporting what cannot run here yet. With `conditions`, `condition` selectors are
    /// parsed (a syntax error is a diagnostic with its column); without, they are refused.
    public static func parse(
        _ flow: APIDefinition.Flow, conditions: Bool = false, diagnostics: inout DiagnosticCollector
    ) -> FlowMatcher {
        var matcher = FlowMatcher()
        for (index, object) in flow.selectors.enumerated() {
            let reader = ConfigurationReader(object, at: flow.path.key("selectors").index(index))
            let type = (reader.string("type", &diagnostics) ?? "").lowercased()
            switch type {
            case "http":
                reader.warnUnknown(["type", "path", "pathOperator", "path-operator", "methods"], &diagnostics)
                var methods = Set<String>()
                for (value, valuePath) in reader.array("methods", &diagnostics) {
                    guard let method = value.stringValue?.uppercased(), httpMethods.contains(method) else {
                        diagnostics.error(
                            valuePath, "must be one of \(httpMethods.sorted().joined(separator: ", "))")
                        continue
                    }
                    methods.insert(method)
                }
                matcher.selectors.append(
                    .http(
                        path: PathPattern(reader.string("path", &diagnostics) ?? "/"),
                        operator: parseOperator(reader, ["pathOperator", "path-operator"], &diagnostics),
                        methods: methods))
            case "channel":
                reader.warnUnknown(
                    [
                        "type", "channel", "channelOperator", "channel-operator", "operation", "operations",
                        "entrypoints",
                    ], &diagnostics)
                var operations = Set<ConnectorMode>()
                for key in ["operations", "operation"] {
                    for (value, valuePath) in reader.array(key, &diagnostics) {
                        guard let mode = value.stringValue.flatMap({ ConnectorMode(rawValue: $0.lowercased()) }) else {
                            diagnostics.error(valuePath, "must be PUBLISH or SUBSCRIBE")
                            continue
                        }
                        operations.insert(mode)
                    }
                }
                var entrypoints = Set<String>()
                for (value, valuePath) in reader.array("entrypoints", &diagnostics) {
                    if let type = value.stringValue {
                        entrypoints.insert(type)
                    } else {
                        diagnostics.error(valuePath, "must be an entrypoint type")
                    }
                }
                matcher.selectors.append(
                    .channel(
                        channel: PathPattern(reader.string("channel", &diagnostics) ?? "/"),
                        operator: parseOperator(reader, ["channelOperator", "channel-operator"], &diagnostics),
                        operations: operations, entrypoints: entrypoints))
            case "condition" where conditions:
                reader.warnUnknown(["type", "condition"], &diagnostics)
                if let source = reader.string("condition", &diagnostics, required: true),
                    let template = parseCondition(source, at: reader.path.key("condition"), &diagnostics)
                {
                    matcher.conditions.append(template)
                }
            case "condition":
                diagnostics.error(
                    reader.path.key("condition"),
                    "condition selectors are not evaluated yet (no expression language): this flow's rate-limit, quota and spike-arrest steps cannot run",
                    code: "UNSUPPORTED_EXPRESSION")
            default:
                diagnostics.unsupported(reader.path.key("type"), kind: "selector", type: type)
            }
        }
        return matcher
    }

    /// Parses a condition once; nil (with a diagnostic naming the column) when it does not parse, nil without one
    /// when it is blank.
    static func parseCondition(
        _ source: String, at path: JSONPath, _ diagnostics: inout DiagnosticCollector
    ) -> ExpressionTemplate? {
        guard !source.allSatisfy(\.isWhitespace) else { return nil }
        do {
            return try ExpressionParser().parseTemplate(source)
        } catch {
            diagnostics.error(path, "expression does not parse: \(error)", code: "INVALID_EXPRESSION")
            return nil
        }
    }

    private static func parseOperator(
        _ reader: ConfigurationReader, _ keys: [String], _ diagnostics: inout DiagnosticCollector
    ) -> Operator {
        for key in keys {
            guard let text = reader.string(key, &diagnostics) else { continue }
            switch text.uppercased() {
            // Gravitee's fixtures also spell it START_WITH.
            case "STARTS_WITH", "START_WITH": return .startsWith
            case "EQUALS": return .equals
            default:
                diagnostics.error(reader.path.key(key), "must be STARTS_WITH or EQUALS")
                return .startsWith
            }
        }
        return .startsWith
    }
}
