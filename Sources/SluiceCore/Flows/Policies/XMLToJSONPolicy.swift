import Foundation
import NIOCore

/// Gravitee's `xml-json`: turns each message's XML into JSON and sets `Content-Type: application/json`. Content
/// that is not XML: 400 (publish) or 500 (subscribe) `XML_INVALID_MESSAGE_PAYLOAD`.
struct XMLToJSONPolicy: FlowPolicy {
    var status: Int

    static func parse(
        _ reader: ConfigurationReader, _ phase: FlowPhase, _ diagnostics: inout DiagnosticCollector
    ) -> (any FlowPolicy)? {
        reader.warnUnknown(["scope"], &diagnostics)
        return XMLToJSONPolicy(status: phase == .publish ? 400 : 500)
    }

    func apply(to message: inout Message, exchange: FlowExchange, scope: ExpressionScope) -> FlowStepResult {
        guard let json = try? JSONXMLConversion.json(fromXML: Data(message.content.readableBytesView)) else {
            return .fail(
                GatewayError(
                    status: status, key: "XML_INVALID_MESSAGE_PAYLOAD",
                    message: "Unable to transform invalid XML message to JSON"))
        }
        message.content = ByteBuffer(string: json)
        message.headers.set(name: "Content-Type", value: "application/json")
        return .proceed
    }
}
