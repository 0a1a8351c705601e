import Foundation
import NIOCore

/// Gravitee's `json-xml`: `{ "rootElement": "root" }` turns each message's JSON object into XML under that
/// element, and sets `Content-Type: application/xml;charset=UTF-8`. Content that is not a JSON object: 400
/// (publish) or 500 (subscribe) `JSON_INVALID_MESSAGE_PAYLOAD`.
struct JSONToXMLPolicy: FlowPolicy {
    var rootElement: String
    var status: Int

    static func parse(
        _ reader: ConfigurationReader, _ phase: FlowPhase, _ diagnostics: inout DiagnosticCollector
    ) -> (any FlowPolicy)? {
        reader.warnUnknown(["scope", "rootElement"], &diagnostics)
        let root = reader.string("rootElement", &diagnostics) ?? "root"
        guard root.range(of: #"^[A-Za-z_][A-Za-z0-9_.-]*$"#, options: .regularExpression) != nil else {
            diagnostics.error(reader.path.key("rootElement"), "must be an XML element name")
            return nil
        }
        return JSONToXMLPolicy(rootElement: root, status: phase == .publish ? 400 : 500)
    }

    func apply(to message: inout Message, exchange: FlowExchange, scope: ExpressionScope) -> FlowStepResult {
        guard
            let xml = try? JSONXMLConversion.xml(
                fromJSON: Data(message.content.readableBytesView), rootElement: rootElement)
        else {
            return .fail(
                GatewayError(
                    status: status, key: "JSON_INVALID_MESSAGE_PAYLOAD",
                    message: "Unable to transform invalid JSON message to XML"))
        }
        message.content = ByteBuffer(string: xml)
        message.headers.set(name: "Content-Type", value: "application/xml;charset=UTF-8")
        return .proceed
    }
}
