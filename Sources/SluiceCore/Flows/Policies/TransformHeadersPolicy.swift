/// Gravitee's `transform-headers`: `addHeaders` (set, replacing), `appendHeaders` (add a value),
/// `removeHeaders`, `whitelistHeaders` (when not empty, only these stay), in that order. Values are templates; one
/// that evaluates to null sets nothing. It acts on the request's headers in the `request` phase, the response's
/// in `response`, and the message's in `publish` and `subscribe` (`scope` is read and ignored, as Gravitee's v4
/// engine ignores it). An expression that fails: 500 `TRANSFORM_HEADERS_FAILURE`.
struct TransformHeadersPolicy: FlowPolicy {
    var add: [(name: String, value: ExpressionTemplate)]
    var append: [(name: String, value: ExpressionTemplate)]
    var remove: [String]
    var whitelist: Set<String>
    var evaluator = ExpressionEvaluator()

    static func parse(
        _ reader: ConfigurationReader, _ phase: FlowPhase, _ diagnostics: inout DiagnosticCollector
    ) -> (any FlowPolicy)? {
        reader.warnUnknown(["scope", "addHeaders", "appendHeaders", "removeHeaders", "whitelistHeaders"], &diagnostics)
        return TransformHeadersPolicy(
            add: FlowPolicies.namedTemplates(reader, "addHeaders", &diagnostics),
            append: FlowPolicies.namedTemplates(reader, "appendHeaders", &diagnostics),
            remove: FlowPolicies.strings(reader, "removeHeaders", &diagnostics),
            whitelist: Set(FlowPolicies.strings(reader, "whitelistHeaders", &diagnostics).map { $0.lowercased() }))
    }

    func transform(_ headers: inout MessageHeaders, scope: ExpressionScope) -> Bool {
        // Every value is computed before any change, as Gravitee evaluates them against the headers as they came.
        var sets: [(String, String)] = []
        var adds: [(String, String)] = []
        for (entries, isSet) in [(add, true), (append, false)] {
            for (name, template) in entries {
                guard let value = try? evaluator.evaluate(template, in: scope) else { return false }
                if value.isNull { continue }
                if isSet { sets.append((name, value.text)) } else { adds.append((name, value.text)) }
            }
        }
        for (name, value) in sets { headers.set(name: name, value: value) }
        for (name, value) in adds { headers.add(name: name, value: value) }
        for name in remove { headers.remove(name: name) }
        if !whitelist.isEmpty {
            headers = MessageHeaders(headers.fields.filter { whitelist.contains($0.name.lowercased()) })
        }
        return true
    }

    func apply(to exchange: inout FlowExchange, scope: ExpressionScope) -> FlowStepResult {
        guard transform(&exchange.headers, scope: scope) else {
            return .fail(
                GatewayError(
                    status: 500, key: "TRANSFORM_HEADERS_FAILURE", message: "Unable to apply headers transformation"))
        }
        return .proceed
    }

    func apply(to message: inout Message, exchange: FlowExchange, scope: ExpressionScope) -> FlowStepResult {
        guard transform(&message.headers, scope: scope) else {
            return .fail(
                GatewayError(
                    status: 500, key: "TRANSFORM_HEADERS_FAILURE",
                    message: "Unable to apply headers transformation on message"))
        }
        return .proceed
    }
}
