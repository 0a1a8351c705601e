import Foundation
import SluiceGateway

/// An OTLP/HTTP trace receiver for the tracing tests: a ``CallbackServer`` answering 204, whose bodies (OTLP JSON,
/// `tracing.otlp.protocol: http/json`) are decoded into spans.
package final class OTLPTraceReceiver: Sendable {
    /// One exported span, as the test reads it.
    package struct Span: Sendable, CustomStringConvertible {
        package enum Kind: Int, Sendable {
            case unspecified = 0, `internal`, server, client, producer, consumer
        }
        package var name: String
        package var kind: Kind
        /// Lowercase hex, as in a `traceparent`.
        package var traceID: String
        package var spanID: String
        /// Empty for a root span.
        package var parentSpanID: String
        package var attributes: [String: String]
        /// The span's status code: 0 unset, 1 ok, 2 error.
        package var statusCode: Int

        package var description: String {
            "\(name) [\(kind)] trace \(traceID) span \(spanID) parent \(parentSpanID)"
        }
    }

    package let server: CallbackServer

    private init(server: CallbackServer) { self.server = server }

    package static func start() async throws -> OTLPTraceReceiver {
        OTLPTraceReceiver(server: try await CallbackServer.start(.status(204)))
    }

    package var url: String { "http://127.0.0.1:\(server.port)/v1/traces" }

    /// Gateway settings that export every span here at once (JSON, a short batch delay).
    package func configure(_ settings: inout GatewaySettings) {
        settings.observability.tracing.enabled = true
        settings.observability.tracing.otlpEndpoint = url
        settings.observability.tracing.otlpProtocol = .httpJSON
        settings.observability.tracing.scheduleDelayMs = 50
    }

    /// Every span received so far.
    package var spans: [Span] {
        server.received.flatMap { Self.decode($0.body) }
    }

    /// Waits until `condition` holds of the spans received, up to `limit`.
    package func wait(
        _ limit: Duration = .seconds(30), _ what: String, until condition: @Sendable ([Span]) -> Bool
    ) async throws -> [Span] {
        let deadline = ContinuousClock.now + limit
        while true {
            let spans = self.spans
            if condition(spans) { return spans }
            if ContinuousClock.now >= deadline {
                throw CallbackServerTimeout(what: "\(what); spans: \(spans)", received: spans.count)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    package func stop() async { await server.stop() }

    /// The spans of one OTLP JSON export request (`resourceSpans[].scopeSpans[].spans[]`). Ids are hex in the
    /// OTLP JSON mapping; base64 (the generic protobuf JSON mapping) is read too.
    package static func decode(_ body: String) -> [Span] {
        guard let root = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else { return [] }
        var spans: [Span] = []
        for resource in root["resourceSpans"] as? [[String: Any]] ?? [] {
            for scope in resource["scopeSpans"] as? [[String: Any]] ?? [] {
                for span in scope["spans"] as? [[String: Any]] ?? [] {
                    var attributes: [String: String] = [:]
                    for attribute in span["attributes"] as? [[String: Any]] ?? [] {
                        guard let key = attribute["key"] as? String, let value = attribute["value"] as? [String: Any]
                        else { continue }
                        if let text = value["stringValue"] as? String {
                            attributes[key] = text
                        } else if let number = value["intValue"] {
                            attributes[key] = "\(number)"
                        } else if let flag = value["boolValue"] as? Bool {
                            attributes[key] = "\(flag)"
                        }
                    }
                    let status = span["status"] as? [String: Any]
                    spans.append(
                        Span(
                            name: span["name"] as? String ?? "",
                            kind: Span.Kind(rawValue: span["kind"] as? Int ?? 0) ?? .unspecified,
                            traceID: hex(span["traceId"]), spanID: hex(span["spanId"]),
                            parentSpanID: hex(span["parentSpanId"]), attributes: attributes,
                            statusCode: status?["code"] as? Int ?? 0))
                }
            }
        }
        return spans
    }

    private static func hex(_ value: Any?) -> String {
        guard let text = value as? String, !text.isEmpty else { return "" }
        if text.count == 32 || text.count == 16, text.allSatisfy(\.isHexDigit) { return text.lowercased() }
        guard let data = Data(base64Encoded: text) else { return text }
        return data.map { String(format: "%02x", $0) }.joined()
    }
}

/// A `traceparent`'s parts, for the tests' checks.
package struct TestTraceParent: Sendable, Equatable {
    package var traceID: String
    package var parentID: String

    package init?(_ value: String?) {
        guard let parts = value?.split(separator: "-"), parts.count == 4, parts[1].count == 32, parts[2].count == 16
        else { return nil }
        traceID = String(parts[1])
        parentID = String(parts[2])
    }

    /// A fresh sampled `traceparent` for a test's client.
    package static func make() -> (header: String, traceID: String, parentID: String) {
        func hex(_ bytes: Int) -> String {
            (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 1...255)) }.joined()
        }
        let traceID = hex(16)
        let parentID = hex(8)
        return ("00-\(traceID)-\(parentID)-01", traceID, parentID)
    }
}
