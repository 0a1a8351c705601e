import NIOCore

/// Gravitee's `policy-assign-content` (also written `assign-content`): `{ "body": "…" }` replaces each message's
/// content with the body, a template of text and `{#…}` expressions (`{ "order": "{#jsonPath(#message.content,
/// '$.id')}" }`). Gravitee writes the body in FreeMarker (`${message.content}`, `<#if>`); Sluice does not run
/// FreeMarker and refuses such a body at deploy rather than send it out unevaluated. An expression that fails: 500
/// `ASSIGN_CONTENT_ERROR`.
struct AssignContentPolicy: FlowPolicy {
    var body: ExpressionTemplate
    var evaluator = ExpressionEvaluator()

    static func parse(
        _ reader: ConfigurationReader, _ phase: FlowPhase, _ diagnostics: inout DiagnosticCollector
    ) -> (any FlowPolicy)? {
        reader.warnUnknown(["scope", "body"], &diagnostics)
        guard let source = reader.string("body", &diagnostics, required: true) else { return nil }
        if source.contains("${") || source.contains("<#") || source.contains("</#") {
            diagnostics.error(
                reader.path.key("body"),
                "FreeMarker templates (${…}, <#…>) are not evaluated by this gateway; write {#…} expressions",
                code: "UNSUPPORTED_VALUE")
            return nil
        }
        guard let body = FlowEngine.parseTemplate(source, at: reader.path.key("body"), &diagnostics) else {
            return nil
        }
        return AssignContentPolicy(body: body)
    }

    func apply(to message: inout Message, exchange: FlowExchange, scope: ExpressionScope) -> FlowStepResult {
        guard let value = try? evaluator.evaluate(body, in: scope) else {
            return .fail(
                GatewayError(status: 500, key: "ASSIGN_CONTENT_ERROR", message: "Unable to assign body content"))
        }
        message.content = ByteBuffer(string: value.text)
        return .proceed
    }
}
