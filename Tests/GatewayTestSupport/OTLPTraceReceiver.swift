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
        /// The status's description (empty for none).
        package var statusMessage: String

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
                            statusCode: status?["code"] as? Int ?? 0, statusMessage: status?["message"] as? String ?? ""
                        ))
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

/// What a trace check found wrong, with the spans it looked at.
package struct TraceCheckFailure: Error, CustomStringConvertible {
    package var description: String
}

extension OTLPTraceReceiver {
    /// The spans of a client's traced publish whose message reached an SSE consumer and a webhook: waits for them,
    /// then checks client → server → producer → consumer and webhook span, and that the message and the callback
    /// carried the producer's and the webhook span's context. Throws what does not hold.
    @discardableResult
    package func publishChain(
        client: (traceID: String, parentID: String), carried: TestTraceParent, callback: TestTraceParent,
        system: String, topic: String
    ) async throws -> (server: Span, producer: Span, consumer: Span, webhook: Span) {
        let spans = try await spans(of: client.traceID, kinds: [.server, .producer, .consumer, .client])
        let (server, producer) = (spans[.server]!, spans[.producer]!)
        let (consumer, webhook) = (spans[.consumer]!, spans[.client]!)
        try Self.check(
            [
                (server.parentSpanID == client.parentID, "the server span is a child of the client's span"),
                (producer.parentSpanID == server.spanID, "the producer span is a child of the server span"),
                (producer.attributes["messaging.system"] == system, "messaging.system \(system)"),
                (producer.attributes["messaging.destination.name"] == topic, "messaging.destination.name \(topic)"),
                (carried.parentID == producer.spanID, "the message carries the producer span"),
                (consumer.parentSpanID == producer.spanID, "the consumer span is a child of the producer span"),
                (webhook.parentSpanID == producer.spanID, "the webhook span is a child of the producer span"),
                (callback.parentID == webhook.spanID, "the callback carries the webhook span"),
            ], Array(spans.values))
        return (server, producer, consumer, webhook)
    }

    /// The spans of a message produced straight to the broker with `producer`'s context, delivered to an SSE
    /// consumer and a webhook: both are children of the producer's span, and the callback carries the webhook span.
    @discardableResult
    package func deliveryChain(
        producer: (traceID: String, parentID: String), callback: TestTraceParent, system: String, topic: String
    ) async throws -> (consumer: Span, webhook: Span) {
        let spans = try await spans(of: producer.traceID, kinds: [.consumer, .client])
        let (consumer, webhook) = (spans[.consumer]!, spans[.client]!)
        try Self.check(
            [
                (consumer.parentSpanID == producer.parentID, "the consumer span is a child of the producer's span"),
                (consumer.name == "process \(topic)", "the consumer span's name"),
                (consumer.attributes["messaging.system"] == system, "messaging.system \(system)"),
                (webhook.parentSpanID == producer.parentID, "the webhook span is a child of the producer's span"),
                (callback.parentID == webhook.spanID, "the callback carries the webhook span"),
            ], Array(spans.values))
        return (consumer, webhook)
    }

    /// Waits for one span of each kind in trace `traceID`.
    private func spans(of traceID: String, kinds: [Span.Kind]) async throws -> [Span.Kind: Span] {
        let spans = try await wait(.seconds(30), "spans \(kinds) of trace \(traceID)") { spans in
            kinds.allSatisfy { kind in spans.contains { $0.kind == kind && $0.traceID == traceID } }
        }
        var byKind: [Span.Kind: Span] = [:]
        for span in spans where span.traceID == traceID && byKind[span.kind] == nil { byKind[span.kind] = span }
        return byKind
    }

    private static func check(_ facts: [(Bool, String)], _ spans: [Span]) throws {
        let failed = facts.filter { !$0.0 }.map(\.1)
        guard failed.isEmpty else {
            throw TraceCheckFailure(description: "not so: \(failed.joined(separator: "; ")); spans: \(spans)")
        }
    }
}

/// Runs `body` with a webhook receiver and, when `tracing`, an OTLP trace receiver; stops both after it, whatever
/// happens.
package func withTraceReceivers<T>(
    tracing: Bool, isolation: isolated (any Actor)? = #isolation,
    _ body: (CallbackServer, OTLPTraceReceiver?) async throws -> T
) async throws -> T {
    let callback = try await CallbackServer.start()
    let receiver = tracing ? try await OTLPTraceReceiver.start() : nil
    do {
        let result = try await body(callback, receiver)
        await callback.stop()
        await receiver?.stop()
        return result
    } catch {
        await callback.stop()
        await receiver?.stop()
        throw error
    }
}

extension CallbackServer {
    /// Waits for the callback POST whose body is `body`, and returns it with its `traceparent`.
    package func traced(
        _ body: String, within limit: Duration = .seconds(60)
    ) async throws -> (
        request: Received, traceParent: TestTraceParent
    ) {
        try await wait(limit, "the callback of \(body)") { $0.contains { $0.body == body } }
        let request = received.first { $0.body == body }!
        guard let parent = TestTraceParent(request.header("traceparent")) else {
            throw TraceCheckFailure(description: "no valid traceparent on the callback: \(request.headers)")
        }
        return (request, parent)
    }
}
