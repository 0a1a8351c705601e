/// Gravitee's `message-filtering`: `{ "filter": "{#…}", "ackFilteredMessage": false }`. A message goes on when
/// the filter is true for it (`{#jsonPath(#message.content, '$.type') == 'created'}`, or against
/// `#subscription.metadata` so each consumer gets only its own events); otherwise, or when the filter cannot be
/// evaluated, it is dropped.
struct MessageFilteringPolicy: FlowPolicy {
    var filter: ExpressionTemplate
    var evaluator = ExpressionEvaluator()

    static func parse(
        _ reader: ConfigurationReader, _ phase: FlowPhase, _ diagnostics: inout DiagnosticCollector
    ) -> (any FlowPolicy)? {
        reader.warnUnknown(["filter", "ackFilteredMessage"], &diagnostics)
        _ = reader.bool("ackFilteredMessage", &diagnostics)
        guard let source = reader.string("filter", &diagnostics, required: true),
            let filter = FlowEngine.parseTemplate(source, at: reader.path.key("filter"), &diagnostics)
        else { return nil }
        return MessageFilteringPolicy(filter: filter)
    }

    func apply(to message: inout Message, exchange: FlowExchange, scope: ExpressionScope) -> FlowStepResult {
        guard let value = try? evaluator.evaluate(filter, in: scope), FlowEngine.isTrue(value) else { return .drop }
        return .proceed
    }
}
