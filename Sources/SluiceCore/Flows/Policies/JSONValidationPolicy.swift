import Foundation

/// Gravitee's `json-validation`: `{ "schema": "<JSON Schema text>", "errorMessage": "…", "validateUnchecked",
/// "deepCheck", "straightRespondMode" }` checks each message's content against the schema (see ``JSONSchema`` for
/// the keywords checked). Content that is not JSON: 400 `JSON_INVALID_MESSAGE_REQUEST_FORMAT` (publish) or
/// `JSON_INVALID_MESSAGE_RESPONSE_FORMAT` (subscribe); JSON that breaks the schema: 400
/// `JSON_INVALID_MESSAGE_REQUEST_PAYLOAD` / `…RESPONSE_PAYLOAD`. With `straightRespondMode` the message goes on
/// anyway (Gravitee only records the error). The message is `errorMessage` (a template) or `Bad request`.
struct JSONValidationPolicy: FlowPolicy {
    var schema: JSONSchema
    var errorMessage: ExpressionTemplate?
    var straightRespond: Bool
    var direction: String
    var evaluator = ExpressionEvaluator()

    static func parse(
        _ reader: ConfigurationReader, _ phase: FlowPhase, _ diagnostics: inout DiagnosticCollector
    ) -> (any FlowPolicy)? {
        reader.warnUnknown(
            ["scope", "schema", "errorMessage", "validateUnchecked", "deepCheck", "straightRespondMode"], &diagnostics)
        _ = reader.bool("validateUnchecked", &diagnostics)
        _ = reader.bool("deepCheck", &diagnostics)
        let straight = reader.bool("straightRespondMode", &diagnostics) ?? false
        var errorMessage: ExpressionTemplate?
        if let source = reader.string("errorMessage", &diagnostics), !source.isEmpty {
            errorMessage = FlowEngine.parseTemplate(source, at: reader.path.key("errorMessage"), &diagnostics)
        }
        guard let text = reader.string("schema", &diagnostics, required: true) else { return nil }
        let schema: JSONSchema
        do {
            schema = try JSONSchema.compile(try JSONValue.parse(json: Data(text.utf8)))
        } catch let invalid as JSONSchema.Invalid {
            diagnostics.error(
                reader.path.key("schema"), "schema \(invalid.path): \(invalid.description)", code: "UNSUPPORTED_VALUE")
            return nil
        } catch {
            diagnostics.error(reader.path.key("schema"), "is not JSON: \(error)")
            return nil
        }
        return JSONValidationPolicy(
            schema: schema, errorMessage: errorMessage, straightRespond: straight,
            direction: phase == .publish ? "REQUEST" : "RESPONSE")
    }

    func apply(to message: inout Message, exchange: FlowExchange, scope: ExpressionScope) -> FlowStepResult {
        let key: String
        if let value = try? JSONValue.parse(json: Data(message.content.readableBytesView)) {
            guard !schema.problems(of: value, limit: 1).isEmpty else { return .proceed }
            key = "JSON_INVALID_MESSAGE_\(direction)_PAYLOAD"
        } else {
            key = "JSON_INVALID_MESSAGE_\(direction)_FORMAT"
        }
        if straightRespond { return .proceed }
        var text = "Bad request"
        if let errorMessage, let value = try? evaluator.evaluate(errorMessage, in: scope) { text = value.text }
        return .fail(GatewayError(status: 400, key: key, message: text))
    }
}
