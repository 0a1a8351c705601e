import Foundation
import NIOCore

/// Gravitee's `cloud-events`: `{ "id", "type", "source", "subject" }` (templates) wrap each message as a
/// CloudEvents 1.0 event in structured JSON mode: `specversion`, `id`, `source`, `type`, `subject` when given,
/// `time` (the message's timestamp), `datacontenttype` (the message's `Content-Type`, when it has one), and the
/// content as `data` (as JSON when it is JSON, as text when it is UTF-8, else base64 in `data_base64`). The
/// message's `Content-Type` becomes `application/cloudevents+json`. A field that cannot be computed, or an empty
/// `id`, `type` or `source`: 500 `CLOUD_EVENTS_TRANSFORMATION_ERROR`.
struct CloudEventsPolicy: FlowPolicy {
    var id: ExpressionTemplate
    var type: ExpressionTemplate
    var source: ExpressionTemplate
    var subject: ExpressionTemplate?
    var evaluator = ExpressionEvaluator()

    static func parse(
        _ reader: ConfigurationReader, _ phase: FlowPhase, _ diagnostics: inout DiagnosticCollector
    ) -> (any FlowPolicy)? {
        reader.warnUnknown(["id", "type", "source", "subject"], &diagnostics)
        func field(_ key: String, required: Bool) -> ExpressionTemplate? {
            guard let text = reader.string(key, &diagnostics, required: required) else { return nil }
            return FlowEngine.parseTemplate(text, at: reader.path.key(key), &diagnostics)
        }
        let id = field("id", required: true)
        let type = field("type", required: true)
        let source = field("source", required: true)
        let subject = field("subject", required: false)
        guard let id, let type, let source else { return nil }
        return CloudEventsPolicy(id: id, type: type, source: source, subject: subject)
    }

    func apply(to message: inout Message, exchange: FlowExchange, scope: ExpressionScope) -> FlowStepResult {
        let failure = FlowStepResult.fail(
            GatewayError(
                status: 500, key: "CLOUD_EVENTS_TRANSFORMATION_ERROR", message: "Unable to create cloud-events object"))
        func text(_ template: ExpressionTemplate) -> String? {
            guard let value = try? evaluator.evaluate(template, in: scope), !value.isNull else { return nil }
            return value.text
        }
        guard let id = text(id), !id.isEmpty, let type = text(type), !type.isEmpty, let source = text(source),
            !source.isEmpty
        else { return failure }
        var event = JSONObject()
        event["specversion"] = .string("1.0")
        event["id"] = .string(id)
        event["source"] = .string(source)
        event["type"] = .string(type)
        if let subject {
            guard let value = text(subject) else { return failure }
            if !value.isEmpty { event["subject"] = .string(value) }
        }
        if message.timestamp > 0 {
            let date = Date(timeIntervalSince1970: Double(message.timestamp) / 1000)
            event["time"] = .string(date.formatted(.iso8601))
        }
        if let contentType = message.headers["Content-Type"].first { event["datacontenttype"] = .string(contentType) }
        let bytes = Data(message.content.readableBytesView)
        if let json = try? JSONValue.parse(json: bytes) {
            event["data"] = json
        } else if let string = String(data: bytes, encoding: .utf8) {
            event["data"] = .string(string)
        } else {
            event["data_base64"] = .string(bytes.base64EncodedString())
        }
        message.content = ByteBuffer(string: JSONValue.object(event).jsonText())
        message.headers.set(name: "Content-Type", value: "application/cloudevents+json")
        return .proceed
    }
}
