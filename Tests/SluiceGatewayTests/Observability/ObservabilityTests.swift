import Foundation
import SluiceCore
import Testing

import class GatewayTestSupport.RawSSEClient
import class GatewayTestSupport.TestWebSocket

@testable import SluiceGateway

/// Metrics after known traffic (exact counts), access log lines as JSON, secrets masked, health: through real
/// sockets, on both request paths (the event loop's publish and SSE, the async responder's polls and errors).
@Suite("observability: metrics, access log, health", .serialized)
struct ObservabilityTests {
    /// The value of the one sample of `name` whose labels include every one of `labels` (`key="value"`).
    static func value(_ text: String, _ name: String, _ labels: [String]) -> Double? {
        let lines = text.split(separator: "\n").filter { line in
            line.hasPrefix("\(name){") && labels.allSatisfy { line.contains($0) }
        }
        guard lines.count == 1, let space = lines[0].lastIndex(of: " ") else { return nil }
        return Double(lines[0][lines[0].index(after: space)...])
    }

    static func logFile() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("sluice-access-\(UUID().uuidString).log").path
    }

    /// The access log's lines, each parsed as a JSON object.
    static func logLines(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
            return try #require(object as? [String: Any], "not an object: \(line)")
        }
    }

    @Test("exact request, status, message and byte counts per api, plan, entrypoint; one JSON log line per request")
    func countsAndAccessLog() async throws {
        let log = Self.logFile()
        defer { try? FileManager.default.removeItem(atPath: log) }
        try await withGateway(
            ["orders.json": Definitions.inMemory(id: "orders", path: "/orders")],
            configure: {
                $0.metricsPort = 0
                $0.observability.accessLog = .file(log)
            }
        ) { gateway in
            let base = "\(gateway.baseURL)/orders"
            for index in 0..<3 {
                // Served on the event loop: a key-less publish to the embedded log.
                let response = try await httpCall(.POST, base, body: "hello\(index)")
                #expect(response.status == 202)
            }
            for _ in 0..<2 {
                // Served by the async responder: a poll.
                let response = try await httpCall(.GET, base, headers: [("Accept", "application/json")])
                #expect(response.status == 200)
            }
            #expect(try await httpCall(.GET, "\(gateway.baseURL)/nowhere?token=abc").status == 404)
            #expect(try await httpCall(.PUT, base, body: "x").status >= 400)
            let port = try #require(await gateway.gateway.metricsPort())
            let text = try await httpCall(.GET, "http://127.0.0.1:\(port)/metrics").body
            let api = #"api="orders""#
            let post = [api, #"entrypoint="http-post""#, #"application="none""#, #"endpoint="inmemory""#]
            #expect(Self.value(text, "sluice_requests_total", post + [#"status="202""#]) == 3, "\(text)")
            #expect(Self.value(text, "sluice_messages_in_total", post) == 3)
            #expect(Self.value(text, "sluice_message_bytes_in_total", post) == 18)
            #expect(Self.value(text, "sluice_request_body_bytes_total", post) == 18)
            #expect(Self.value(text, "sluice_request_duration_seconds_count", post) == 3)
            #expect(Self.value(text, "sluice_message_errors_total", post) == 0)
            let get = [api, #"entrypoint="http-get""#]
            #expect(Self.value(text, "sluice_requests_total", get + [#"status="200""#]) == 2, "\(text)")
            #expect(Self.value(text, "sluice_request_duration_seconds_count", get) == 2)
            // Every sample's labels are bounded: no path, no client or message id.
            #expect(!text.contains("nowhere"))
            #expect(!text.contains("hello"))

            await gateway.gateway.observability.flushAccessLog()
            let lines = try Self.logLines(log)
            #expect(lines.count == 7, "\(lines)")
            let posts = lines.filter { $0["method"] as? String == "POST" }
            #expect(posts.count == 3)
            for line in posts {
                #expect(line["api"] as? String == "orders")
                #expect(line["entrypoint"] as? String == "http-post")
                #expect(line["status"] as? Int == 202)
                #expect(line["path"] as? String == "/orders")
                #expect(line["bytesIn"] as? Int == 6)
                #expect(line["bytesOut"] as? Int == 0)
                #expect(line["messagesIn"] as? Int == 1)
                #expect(line["plan"] is String)
                #expect(line["durationMs"] is Double || line["durationMs"] is Int)
                #expect((line["time"] as? String)?.hasSuffix("Z") == true)
                #expect(line["kind"] as? String == "request")
            }
            let polls = lines.filter { $0["entrypoint"] as? String == "http-get" }
            #expect(polls.count == 2)
            #expect(polls.allSatisfy { $0["status"] as? Int == 200 && ($0["bytesOut"] as? Int ?? 0) > 0 })
            // Each poll read the three messages from the start of the log.
            #expect(polls.map { $0["messagesOut"] as? Int } == [3, 3], "\(polls)")
            let missing = try #require(lines.first { $0["status"] as? Int == 404 })
            #expect(missing["api"] is NSNull)
            // A secret-looking query parameter is masked.
            #expect(missing["path"] as? String == "/nowhere?token=****")
        }
    }

    @Test("an api-key plan's application labels the series; the key is masked in the log and never a label")
    func applicationsAndSecrets() async throws {
        let log = Self.logFile()
        defer { try? FileManager.default.removeItem(atPath: log) }
        let key = APIKeyPlanTests.validKey
        try await withGateway(
            ["orders.json": APIKeyPlanTests.keyed("orders"), "shop.access.json": APIKeyPlanTests.access()],
            configure: {
                $0.metricsPort = 0
                $0.observability.accessLog = .file(log)
            }
        ) { gateway in
            let base = "\(gateway.baseURL)/orders"
            #expect(try await httpCall(.POST, base, headers: [("X-Gravitee-Api-Key", key)], body: "a").status == 202)
            #expect(try await httpCall(.POST, "\(base)?api-key=\(key)&x=1", body: "b").status == 202)
            #expect(try await httpCall(.POST, base, headers: [("Authorization", "Bearer secret-token")]).status == 401)
            let port = try #require(await gateway.gateway.metricsPort())
            let text = try await httpCall(.GET, "http://127.0.0.1:\(port)/_node/metrics/prometheus").body
            let labels = [#"api="orders""#, #"plan="orders-key""#, #"application="app""#, #"entrypoint="http-post""#]
            #expect(Self.value(text, "sluice_requests_total", labels + [#"status="202""#]) == 2, "\(text)")
            #expect(Self.value(text, "sluice_requests_total", [#"api="orders""#, #"status="401""#]) == 1, "\(text)")
            #expect(!text.contains(key))
            #expect(!text.contains("sub\""), "no subscription label on request series")
            await gateway.gateway.observability.flushAccessLog()
            let raw = try String(contentsOfFile: log, encoding: .utf8)
            #expect(!raw.contains(key), "\(raw)")
            #expect(!raw.contains("secret-token"))
            let lines = try Self.logLines(log)
            #expect(lines.count == 3)
            #expect(lines.contains { $0["path"] as? String == "/orders?api-key=****&x=1" }, "\(lines)")
            #expect(lines.filter { $0["application"] as? String == "app" }.count == 2)
        }
    }

    @Test("applications past metrics.maxApplicationLabels are counted as other")
    func applicationCap() async throws {
        try await withGateway(
            ["orders.json": APIKeyPlanTests.keyed("orders"), "shop.access.json": APIKeyPlanTests.access()],
            configure: {
                $0.metricsPort = 0
                $0.observability.maxApplicationLabels = 0
            }
        ) { gateway in
            let headers = [("X-Gravitee-Api-Key", APIKeyPlanTests.validKey)]
            #expect(try await httpCall(.POST, "\(gateway.baseURL)/orders", headers: headers, body: "a").status == 202)
            let port = try #require(await gateway.gateway.metricsPort())
            let text = try await httpCall(.GET, "http://127.0.0.1:\(port)/metrics").body
            #expect(Self.value(text, "sluice_requests_total", [#"application="other""#, #"status="202""#]) == 1)
            #expect(!text.contains(#"application="app""#))
        }
    }

    @Test("an SSE stream is an open connection while it lasts; its messages and its end are counted")
    func streams() async throws {
        let log = Self.logFile()
        defer { try? FileManager.default.removeItem(atPath: log) }
        // Heartbeats every half second: a client that left is noticed at the next write.
        let entrypoints = """
            [{ "type": "http-post" }, { "type": "sse", "configuration": { "heartbeatIntervalInMs": 500 } }]
            """
        try await withGateway(
            ["orders.json": Definitions.inMemory(id: "orders", path: "/orders", entrypoints: entrypoints)],
            configure: {
                $0.metricsPort = 0
                $0.observability.accessLog = .file(log)
            }
        ) { gateway in
            let port = try #require(await gateway.gateway.metricsPort())
            let metrics = "http://127.0.0.1:\(port)/metrics"
            let stream = try await RawSSEClient.open(port: gateway.port, path: "/orders")
            #expect(stream.status == 200)
            for index in 0..<2 {
                #expect(try await httpCall(.POST, "\(gateway.baseURL)/orders", body: "m\(index)").status == 202)
            }
            #expect(try await stream.messages(2).compactMap(\.data) == ["m0", "m1"])
            let sse = [#"api="orders""#, #"entrypoint="sse""#]
            let open = try await httpCall(.GET, metrics).body
            #expect(Self.value(open, "sluice_active_stream_connections", sse) == 1, "\(open)")
            #expect(Self.value(open, "sluice_messages_out_total", sse) == 2)
            await stream.close()
            #expect(
                try await gateway.eventually(timeout: .seconds(20)) {
                    let text = try await httpCall(.GET, metrics).body
                    return Self.value(text, "sluice_active_stream_connections", sse) == 0
                })
            let closed = try await httpCall(.GET, metrics).body
            #expect(Self.value(closed, "sluice_requests_total", sse + [#"status="200""#]) == 1)
            await gateway.gateway.observability.flushAccessLog()
            let line = try #require(try Self.logLines(log).first { $0["kind"] as? String == "stream" })
            #expect(line["messagesOut"] as? Int == 2)
            #expect(line["entrypoint"] as? String == "sse")
        }
    }

    @Test("health: live, ready with every API's endpoint, on the metrics listener; unknown paths 404")
    func health() async throws {
        try await withGateway(
            ["orders.json": Definitions.inMemory(id: "orders", path: "/orders")],
            configure: {
                $0.metricsPort = 0
                $0.observability.metricsPath = "/custom/metrics"
            }
        ) { gateway in
            let port = try #require(await gateway.gateway.metricsPort())
            let base = "http://127.0.0.1:\(port)"
            let live = try await httpCall(.GET, "\(base)/health/live")
            #expect(live.status == 200)
            #expect(live.json?["status"]?.stringValue == "UP")
            let ready = try await httpCall(.GET, "\(base)/health/ready")
            #expect(ready.status == 200, "\(ready.body)")
            #expect(ready.json?["apis"]?["orders"]?["status"]?.stringValue == "UP", "\(ready.body)")
            #expect(try await httpCall(.GET, "\(base)/custom/metrics").body.contains("# TYPE"))
            #expect(try await httpCall(.GET, "\(base)/other").status == 404)
            // The APIs' port does not answer health: an API could own that path.
            #expect(try await httpCall(.GET, "\(gateway.baseURL)/health/ready").status == 404)
        }
    }

    @Test("settings: accessLog.output, metrics.path and metrics.maxApplicationLabels, with clear errors")
    func settings() throws {
        var settings = GatewaySettings()
        try settings.apply(
            environment: [
                "SLUICE_ACCESS_LOG_OUTPUT": "stdout", "SLUICE_METRICS_PATH": "/prom",
                "SLUICE_METRICS_MAX_APPLICATION_LABELS": "5",
            ])
        #expect(settings.observability.accessLog == .stdout)
        #expect(settings.observability.metricsPath == "/prom")
        #expect(settings.observability.maxApplicationLabels == 5)
        #expect(throws: GatewaySettings.Problem.self) {
            try settings.apply(environment: ["SLUICE_METRICS_PATH": "prom"])
        }
        #expect(throws: GatewaySettings.Problem.self) {
            try settings.apply(environment: ["SLUICE_ACCESS_LOG_BUFFER_LINES": "0"])
        }
    }

    static let analytics = """
        "analytics": { "enabled": true, "messageSampling": { "type": "count", "value": "2" },
          "logging": { "content": { "messageHeaders": true, "messagePayload": true },
                       "phase": { "request": true, "response": true }, "mode": { "entrypoint": true } } }
        """

    @Test("message logging: count sampling logs exactly every other message, headers masked, payload kept")
    func messageSampling() async throws {
        let log = Self.logFile()
        defer { try? FileManager.default.removeItem(atPath: log) }
        let definition = Definitions.inMemory(id: "orders", path: "/orders").replacingOccurrences(
            of: #""analytics": { "enabled": false }"#, with: Self.analytics)
        try await withGateway(
            ["orders.json": definition],
            configure: { $0.observability.accessLog = .file(log) }
        ) { gateway in
            let base = "\(gateway.baseURL)/orders"
            let headers = [
                ("Authorization", "Bearer top-secret"), ("Cookie", "session=abc123"), ("X-Custom", "visible"),
                ("X-Gravitee-Api-Key", "key-123"),
            ]
            for index in 0..<5 {
                let response = try await httpCall(.POST, base, headers: headers, body: "payload-\(index)")
                #expect(response.status == 202)
            }
            // The poll delivers the five messages: the API's sampling count goes on from 5.
            let poll = try await httpCall(.GET, base, headers: [("Accept", "application/json")])
            #expect(poll.status == 200)
            await gateway.gateway.observability.flushAccessLog()
            let raw = try String(contentsOfFile: log, encoding: .utf8)
            for secret in ["top-secret", "abc123", "key-123"] { #expect(!raw.contains(secret), "\(raw)") }
            let messages = try Self.logLines(log).filter { $0["kind"] as? String == "message" }
            let published = messages.filter { $0["direction"] as? String == "publish" }
            let delivered = messages.filter { $0["direction"] as? String == "subscribe" }
            // Messages 0, 2, 4 of the five published; then 6 and 8 of the ten seen.
            #expect(published.map { $0["payload"] as? String } == ["payload-0", "payload-2", "payload-4"])
            #expect(delivered.map { $0["payload"] as? String } == ["payload-1", "payload-3"])
            let first = try #require(published.first)
            let loggedHeaders = try #require(first["headers"] as? [String: [String]], "\(first)")
            #expect(loggedHeaders["X-Custom"] == ["visible"])
            #expect(loggedHeaders["Authorization"] == ["****"])
            #expect(loggedHeaders["Cookie"] == ["****"])
            #expect(first["api"] as? String == "orders")
        }
    }

    @Test(
        "message logging conditions: logging.condition on the request, logging.messageCondition on each message, before sampling"
    )
    func messageConditions() async throws {
        let log = Self.logFile()
        defer { try? FileManager.default.removeItem(atPath: log) }
        let analytics = """
            "analytics": { "enabled": true, "messageSampling": { "type": "count", "value": "1" },
              "logging": { "content": { "messagePayload": true }, "phase": { "request": true },
                           "condition": "{#request.headers['X-Log'][0] == 'yes'}",
                           "messageCondition": "{#message.content.startsWith('keep')}" } }
            """
        let definition = Definitions.inMemory(id: "orders", path: "/orders").replacingOccurrences(
            of: #""analytics": { "enabled": false }"#, with: analytics)
        try await withGateway(
            ["orders.json": definition],
            configure: { $0.observability.accessLog = .file(log) }
        ) { gateway in
            let base = "\(gateway.baseURL)/orders"
            for (body, header) in [("keep-1", "yes"), ("drop-2", "yes"), ("keep-3", "yes"), ("keep-4", "no")] {
                #expect(try await httpCall(.POST, base, headers: [("X-Log", header)], body: body).status == 202)
            }
            #expect(try await httpCall(.POST, base, body: "keep-5").status == 202)
            await gateway.gateway.observability.flushAccessLog()
            let published = try Self.logLines(log).filter { $0["kind"] as? String == "message" }
            #expect(published.map { $0["payload"] as? String } == ["keep-1", "keep-3"])
        }
    }

    @Test("message logging of what SSE streams send: every message of a stream served from the embedded log")
    func streamMessageLogging() async throws {
        let log = Self.logFile()
        defer { try? FileManager.default.removeItem(atPath: log) }
        let analytics = """
            "analytics": { "enabled": true, "messageSampling": { "type": "count", "value": "1" },
              "logging": { "content": { "messagePayload": true }, "phase": { "response": true } } }
            """
        let entrypoints = #"[{ "type": "http-post" }, { "type": "sse" }, { "type": "websocket" }]"#
        let definition = Definitions.inMemory(id: "orders", path: "/orders", entrypoints: entrypoints)
            .replacingOccurrences(of: #""analytics": { "enabled": false }"#, with: analytics)
        try await withGateway(
            ["orders.json": definition],
            configure: { $0.observability.accessLog = .file(log) }
        ) { gateway in
            let stream = try await RawSSEClient.open(port: gateway.port, path: "/orders")
            #expect(stream.status == 200)
            for index in 0..<3 {
                #expect(try await httpCall(.POST, "\(gateway.baseURL)/orders", body: "m\(index)").status == 202)
            }
            #expect(try await stream.messages(3).compactMap(\.data) == ["m0", "m1", "m2"])
            await stream.close()
            await gateway.gateway.observability.flushAccessLog()
            let delivered = try Self.logLines(log).filter {
                $0["kind"] as? String == "message" && $0["direction"] as? String == "subscribe"
            }
            #expect(delivered.map { $0["payload"] as? String } == ["m0", "m1", "m2"])
            #expect(delivered.allSatisfy { $0["entrypoint"] as? String == "sse" })
        }
    }

    @Test("analytics.messageSampling: each type read, bad values refused with their path")
    func samplingSettings() throws {
        func parse(_ json: String) -> (MessageLog?, [Diagnostic]) {
            var diagnostics: [Diagnostic] = []
            let value = try? JSONValue.parse(json: Data(json.utf8))
            return (MessageLog.parse(value, diagnostics: &diagnostics), diagnostics)
        }
        let logging = #""logging": { "content": { "messagePayload": true }, "phase": { "request": true } }"#
        #expect(
            parse(#"{ "enabled": true, "messageSampling": { "type": "count", "value": "10" }, \#(logging) }"#).0?
                .sampling == .count(10))
        #expect(
            parse(#"{ "enabled": true, "messageSampling": { "type": "probability", "value": "0.5" }, \#(logging) }"#).0?
                .sampling == .probability(0.5))
        #expect(
            parse(#"{ "enabled": true, "messageSampling": { "type": "temporal", "value": "PT2S" }, \#(logging) }"#).0?
                .sampling == .temporal(nanoseconds: 2_000_000_000))
        #expect(parse(#"{ "enabled": true, \#(logging) }"#).0?.sampling == MessageLog.defaultSampling)
        #expect(parse(#"{ "enabled": false, \#(logging) }"#).0 == nil)
        #expect(parse(#"{ "enabled": true }"#).0 == nil)
        for bad in [
            #"{ "type": "sometimes" }"#, #"{ "type": "count", "value": "0" }"#,
            #"{ "type": "probability", "value": "2" }"#, #"{ "type": "temporal", "value": "1 second" }"#,
        ] {
            let (_, diagnostics) = parse(#"{ "enabled": true, "messageSampling": \#(bad), \#(logging) }"#)
            #expect(diagnostics.first?.path == "analytics.messageSampling", "\(bad)")
        }
        // Conditions parse once, at deployment; a broken one is refused with its path.
        let conditioned = parse(
            #"{ "enabled": true, "logging": { "phase": { "request": true }, "condition": "{#request.method == 'POST'}", "messageCondition": " " } }"#
        ).0
        #expect(conditioned?.condition != nil && conditioned?.messageCondition == nil)
        for (key, bad) in [("condition", "{#request.headers[}"), ("messageCondition", "{#nothing.here}")] {
            let (_, diagnostics) = parse(
                #"{ "enabled": true, "logging": { "phase": { "request": true }, "\#(key)": "\#(bad)" } }"#)
            #expect(diagnostics.first?.path == "analytics.logging.\(key)", "\(bad)")
        }
        #expect(MessageLog.isoDurationNanoseconds("PT0.5S") == 500_000_000)
        #expect(MessageLog.isoDurationNanoseconds("PT1M30S") == 90_000_000_000)
        #expect(MessageLog.isoDurationNanoseconds("P1D") == 86_400_000_000_000)
        #expect(MessageLog.isoDurationNanoseconds("PT") == nil)
        #expect(MessageLog.isoDurationNanoseconds("5S") == nil)
    }

    @Test("a WebSocket subscriber: an open connection while it lasts, its messages counted, 101 when it ends")
    func webSockets() async throws {
        let log = Self.logFile()
        defer { try? FileManager.default.removeItem(atPath: log) }
        try await withGateway(
            ["orders.json": Definitions.inMemory(id: "orders", path: "/orders")],
            configure: {
                $0.metricsPort = 0
                $0.observability.accessLog = .file(log)
            }
        ) { gateway in
            let port = try #require(await gateway.gateway.metricsPort())
            let metrics = "http://127.0.0.1:\(port)/metrics"
            let ws = [#"api="orders""#, #"entrypoint="websocket""#]
            try await TestWebSocket.session(port: gateway.port, path: "/orders") { socket in
                for index in 0..<2 {
                    #expect(try await httpCall(.POST, "\(gateway.baseURL)/orders", body: "w\(index)").status == 202)
                }
                var received = 0
                while received < 2, let event = try await socket.next() {
                    if case .message = event { received += 1 }
                }
                let open = try await httpCall(.GET, metrics).body
                #expect(Self.value(open, "sluice_active_stream_connections", ws) == 1, "\(open)")
                #expect(Self.value(open, "sluice_messages_out_total", ws) == 2, "\(open)")
            }
            #expect(
                try await gateway.eventually(timeout: .seconds(20)) {
                    let text = try await httpCall(.GET, metrics).body
                    return Self.value(text, "sluice_requests_total", ws + [#"status="101""#]) == 1
                })
            let closed = try await httpCall(.GET, metrics).body
            #expect(Self.value(closed, "sluice_active_stream_connections", ws) == 0)
            await gateway.gateway.observability.flushAccessLog()
            let line = try #require(try Self.logLines(log).first { $0["entrypoint"] as? String == "websocket" })
            #expect(line["status"] as? Int == 101)
            #expect(line["kind"] as? String == "stream")
            #expect(line["messagesOut"] as? Int == 2, "\(line)")
        }
    }

    @Test("rate-limit rejections: exactly the requests past the limit, on the event loop's publish path")
    func rateLimitRejections() async throws {
        let definition = RateLimitTests.api(
            flows: "[\(RateLimitTests.flow("posts", request: [RateLimitTests.step(limit: 3)]))]")
        try await withGateway(["orders.json": definition], configure: { $0.metricsPort = 0 }) { gateway in
            var statuses: [Int] = []
            for _ in 0..<5 { statuses.append(try await RateLimitTests.post(gateway).status) }
            #expect(statuses == [202, 202, 202, 429, 429])
            let port = try #require(await gateway.gateway.metricsPort())
            let text = try await httpCall(.GET, "http://127.0.0.1:\(port)/metrics").body
            let post = [#"api="orders""#, #"entrypoint="http-post""#]
            #expect(Self.value(text, "sluice_rate_limit_rejections_total", post) == 2, "\(text)")
            #expect(Self.value(text, "sluice_requests_total", post + [#"status="429""#]) == 2)
            #expect(Self.value(text, "sluice_requests_total", post + [#"status="202""#]) == 3)
            #expect(Self.value(text, "sluice_messages_in_total", post) == 3)
        }
    }

    @Test("a flow that filters messages: filtered messages counted, on the async path")
    func filteredMessages() async throws {
        let filter = """
            { "name": "filter", "policy": "message-filtering", "enabled": true,
              "configuration": { "filter": "{#message.content == 'keep'}" } }
            """
        let definition = RateLimitTests.api(
            flows: """
                [{ "name": "filter", "enabled": true, "selectors": [], "request": [], "publish": [\(filter)] }]
                """)
        try await withGateway(["orders.json": definition], configure: { $0.metricsPort = 0 }) { gateway in
            for body in ["keep", "drop", "keep", "drop", "drop"] {
                let response = try await httpCall(.POST, "\(gateway.baseURL)/orders", body: body)
                #expect(response.status == 202)
            }
            let port = try #require(await gateway.gateway.metricsPort())
            let text = try await httpCall(.GET, "http://127.0.0.1:\(port)/metrics").body
            let post = [#"api="orders""#, #"entrypoint="http-post""#]
            #expect(Self.value(text, "sluice_messages_filtered_total", post) == 3, "\(text)")
            #expect(Self.value(text, "sluice_messages_in_total", post) == 2)
            #expect(Self.value(text, "sluice_requests_total", post + [#"status="202""#]) == 5)
        }
    }

    @Test("an access log line is valid JSON whatever its strings hold; secret query values are masked")
    func lineFormat() throws {
        let entry = AccessLogEntry(
            timestampMs: 1_767_225_600_123, api: "q\"uote\\back\nline\u{1}é", plan: nil, application: "app",
            entrypoint: "http-post", method: "POST", target: "/p?a=1&access_token=abc&API-KEY=k&x",
            secretParameters: ["api-key"], status: 202, durationNanoseconds: 1_234_567, firstByteNanoseconds: nil,
            bytesIn: 5, bytesOut: 0, messagesIn: 1, messagesOut: nil)
        let writer = JSONLineWriter(capacity: 16)
        entry.write(to: writer)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? [String: Any], "\(writer.bytes)")
        #expect(object["api"] as? String == "q\"uote\\back\nline\u{1}é")
        #expect(object["plan"] is NSNull)
        #expect(object["time"] as? String == "2026-01-01T00:00:00.123Z")
        #expect(object["durationMs"] as? Double == 1.234)
        #expect(object["path"] as? String == "/p?a=1&access_token=****&API-KEY=****&x")
        #expect(object["status"] as? Int == 202)
    }
}
