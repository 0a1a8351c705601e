/// Gravitee's `policy-assign-attributes` (also written `assign-attributes`): `{ "attributes": [{ "name", "value" }] }`.
/// In the `request` and `response` phases it sets the request's context attributes (`#context.attributes`); in
/// `publish` and `subscribe`, the message's attributes (`#message.attributes`), which endpoints read
/// (`gravitee.attribute.kafka.topics`, `…kafka.recordKey`, `…mqtt5.topic`). A value that evaluates to null, or
/// fails, is not set (Gravitee logs and goes on).
struct AssignAttributesPolicy: FlowPolicy {
    var attributes: [(name: String, value: ExpressionTemplate)]
    var evaluator = ExpressionEvaluator()

    static func parse(
        _ reader: ConfigurationReader, _ phase: FlowPhase, _ diagnostics: inout DiagnosticCollector
    ) -> (any FlowPolicy)? {
        reader.warnUnknown(["scope", "attributes"], &diagnostics)
        return AssignAttributesPolicy(attributes: FlowPolicies.namedTemplates(reader, "attributes", &diagnostics))
    }

    func apply(to exchange: inout FlowExchange, scope: ExpressionScope) -> FlowStepResult {
        for (name, template) in attributes {
            guard let value = try? evaluator.evaluate(template, in: scope), !value.isNull else { continue }
            exchange.attributes[name] = value
        }
        return .proceed
    }

    func apply(to message: inout Message, exchange: FlowExchange, scope: ExpressionScope) -> FlowStepResult {
        for (name, template) in attributes {
            guard let value = try? evaluator.evaluate(template, in: scope), !value.isNull else { continue }
            message.attributes[name] = value.text
        }
        return .proceed
    }
}
