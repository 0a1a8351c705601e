import Foundation
import SluiceGateway
import Testing

import class GatewayTestSupport.OTLPTraceReceiver
import struct GatewayTestSupport.TestTraceParent
import class GatewayTestSupport.TestWebSocket

/// Trace context through the embedded log (no broker): what clients send on POST and on a WebSocket upgrade is
/// carried with the message whatever the entrypoint's settings, an invalid one is ignored; with tracing on, the
/// spans reach an OTLP/HTTP receiver in this test with their names, kinds and parents. Settings and their checks.
@Suite("tracing: trace context and spans through the embedded log", .serialized)
struct TracingTests {
    static let entrypoints = """
        [{ "type": "http-post" },
         { "type": "http-get", "configuration": { "messagesLimitCount": 50, "messagesLimitDurationMs": 300, "headersInPayload": true } },
         { "type": "websocket", "configuration": { "subscriber": { "enabled": false } } }]
        """

    /// The messages a poll returns: content and headers (first value of each).
    static func poll(
        _ gateway: TestGateway, _ path: String
    ) async throws -> [(content: String, headers: [String: String])] {
        let response = try await httpCall(.GET, "\(gateway.baseURL)\(path)", headers: [("Accept", "application/json")])
        #expect(response.status == 200, "\(response.body)")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
        return (root["items"] as? [[String: Any]] ?? []).map { item in
            let headers = (item["headers"] as? [String: [String]] ?? [:]).compactMapValues(\.first)
            return (item["content"] as? String ?? "", headers)
        }
    }

    @Test(
        "tracing off: a valid traceparent and tracestate travel with a POSTed or WebSocket message; an invalid one is ignored, never an error"
    )
    func propagatesWithoutTracing() async throws {
        let client = TestTraceParent.make()
        try await withGateway(["events.json": Definitions.inMemory(entrypoints: Self.entrypoints)]) { gateway in
            let base = "\(gateway.baseURL)/events"
            #expect(
                try await httpCall(
                    .POST, base, headers: [("traceparent", client.header), ("tracestate", "a=1")], body: "valid"
                ).status == 202)
            for invalid in [
                "ff-\(client.traceID)-\(client.parentID)-01", "00-\(client.traceID)-\(client.parentID)",
                "00-00000000000000000000000000000000-\(client.parentID)-01",
                "00-\(client.traceID.uppercased())-\(client.parentID)-01",
                String(repeating: "x", count: 100), "",
            ] {
                let response = try await httpCall(
                    .POST, base, headers: [("traceparent", invalid), ("tracestate", "a=1")], body: "invalid")
                #expect(response.status == 202, "\(invalid)")
            }
            try await TestWebSocket.session(
                port: gateway.port, path: "/events", headers: [("traceparent", client.header)]
            ) { socket in
                try await socket.send(.text("over-websocket"))
                try await socket.sendClose()
            }
            #expect(
                try await gateway.eventually {
                    try await Self.poll(gateway, "/events").contains { $0.content == "over-websocket" }
                })
            let messages = try await Self.poll(gateway, "/events")
            let valid = try #require(messages.first { $0.content == "valid" })
            #expect(valid.headers["traceparent"] == client.header)
            #expect(valid.headers["tracestate"] == "a=1")
            for message in messages where message.content == "invalid" {
                #expect(message.headers["traceparent"] == nil)
                #expect(message.headers["tracestate"] == nil)
            }
            let overWebSocket = try #require(messages.first { $0.content == "over-websocket" })
            #expect(overWebSocket.headers["traceparent"] == client.header)
        }
    }

    @Test(
        "tracing on: spans exported over OTLP/HTTP with names, kinds and parents; the message carries the producer span"
    )
    func exportsSpans() async throws {
        let receiver = try await OTLPTraceReceiver.start()
        let client = TestTraceParent.make()
        try await withGateway(
            ["events.json": Definitions.inMemory(entrypoints: Self.entrypoints)], configure: { receiver.configure(&$0) }
        ) { gateway in
            let base = "\(gateway.baseURL)/events"
            #expect(
                try await httpCall(.POST, base, headers: [("traceparent", client.header)], body: "traced").status == 202
            )
            #expect(try await httpCall(.POST, base, body: "untraced").status == 202)
            let messages = try await Self.poll(gateway, "/events")
            let traced = try #require(messages.first { $0.content == "traced" })
            let carried = try #require(TestTraceParent(traced.headers["traceparent"]))
            #expect(carried.traceID == client.traceID)
            let untraced = try #require(messages.first { $0.content == "untraced" })
            let started = try #require(TestTraceParent(untraced.headers["traceparent"]), "a new trace")

            let spans = try await receiver.wait(.seconds(30), "POST and GET spans") { spans in
                spans.filter { $0.traceID == client.traceID }.count >= 3
                    && spans.contains { $0.traceID == started.traceID && $0.kind == .consumer }
            }
            let trace = spans.filter { $0.traceID == client.traceID }
            let server = try #require(trace.first { $0.kind == .server })
            #expect(server.name == "POST /events")
            #expect(server.parentSpanID == client.parentID)
            #expect(server.attributes["sluice.api.id"] == "events")
            #expect(server.attributes["sluice.plan.id"] != nil)
            #expect(server.attributes["http.response.status_code"] == "202")
            let producer = try #require(trace.first { $0.kind == .producer })
            #expect(producer.parentSpanID == server.spanID)
            #expect(producer.name == "send events")
            #expect(producer.attributes["messaging.system"] == "inmemory")
            #expect(carried.parentID == producer.spanID)
            let consumer = try #require(trace.first { $0.kind == .consumer })
            #expect(consumer.parentSpanID == producer.spanID)
            #expect(consumer.attributes["sluice.entrypoint.type"] == "http-get")
            // The poll's own server span is a root of its own trace (the GET came without a traceparent).
            #expect(spans.contains { $0.kind == .server && $0.name == "GET /events" && $0.parentSpanID.isEmpty })
            // The untraced POST started a trace of its own at the gateway.
            let root = try #require(spans.first { $0.traceID == started.traceID && $0.kind == .server })
            #expect(root.parentSpanID.isEmpty)
        }
        await receiver.stop()
    }

    @Test("tracing.* from a settings file and SLUICE_TRACING_* variables; off by default; bad values refused")
    func settings() throws {
        let defaults = GatewaySettings().observability.tracing
        #expect(!defaults.enabled)
        #expect(defaults.otlpEndpoint == "http://localhost:4318/v1/traces")
        #expect(defaults.otlpProtocol == .httpProtobuf)
        #expect(defaults.samplerRatio == 1)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: file) }
        try """
        tracing:
          enabled: true
          serviceName: edge
          otlp:
            endpoint: http://collector:4318/v1/traces
            protocol: http/json
          sampler:
            ratio: 0.25
          queueSize: 100
          batchSize: 10
        """.write(to: file, atomically: true, encoding: .utf8)
        var settings = GatewaySettings()
        try settings.apply(file: file.path)
        var tracing = settings.observability.tracing
        #expect(tracing.enabled)
        #expect(tracing.serviceName == "edge")
        #expect(tracing.otlpEndpoint == "http://collector:4318/v1/traces")
        #expect(tracing.otlpProtocol == .httpJSON)
        #expect(tracing.samplerRatio == 0.25)
        #expect(tracing.queueSize == 100)
        #expect(tracing.batchSize == 10)
        try settings.apply(environment: [
            "SLUICE_TRACING_ENABLED": "false", "SLUICE_TRACING_OTLP_ENDPOINT": "https://otel.example/v1/traces",
            "SLUICE_TRACING_SAMPLER_RATIO": "1",
        ])
        tracing = settings.observability.tracing
        #expect(!tracing.enabled)
        #expect(tracing.otlpEndpoint == "https://otel.example/v1/traces")
        #expect(tracing.samplerRatio == 1)
        for (variable, value) in [
            ("SLUICE_TRACING_ENABLED", "maybe"), ("SLUICE_TRACING_OTLP_ENDPOINT", "collector:4318"),
            ("SLUICE_TRACING_OTLP_PROTOCOL", "grpc"), ("SLUICE_TRACING_SAMPLER_RATIO", "1.5"),
            ("SLUICE_TRACING_SERVICE_NAME", ""), ("SLUICE_TRACING_QUEUE_SIZE", "0"),
            ("SLUICE_TRACING_BATCH_SIZE", "101"),
        ] {
            var copy = settings
            #expect(throws: GatewaySettings.Problem.self, "\(variable)=\(value)") {
                try copy.apply(environment: [variable: value])
            }
        }
    }
}
