import Foundation
import SluiceCore
import Testing

import class GatewayTestSupport.TestWebSocket

/// Flows end to end over real sockets: per-subscriber filtering on each subscribe path (SSE, http-get, WebSocket),
/// publish-phase policies on POSTs and WebSocket messages, request-phase attributes reaching the endpoint,
/// `matchRequired`, `latency`.
@Suite("flows end to end")
struct FlowGatewayTests {
    /// An embedded-log API at `/<id>` (all four entrypoints) with these flows.
    static func api(_ id: String, flows: String, extra: String = "") -> String {
        Definitions.inMemory(id: id, path: "/\(id)")
            .replacingOccurrences(of: #""flows": []"#, with: #""flows": "# + flows + extra)
    }

    static let tenantFilter = """
        [{ "name": "per tenant", "enabled": true,
           "subscribe": [{ "name": "filter", "policy": "message-filtering", "enabled": true,
             "configuration": { "filter": "{#jsonPath(#message.content, '$.tenant') == #request.headers['X-Tenant'][0]}" } }] }]
        """

    static func publish(_ gateway: TestGateway, _ path: String, _ bodies: [String]) async throws {
        for body in bodies {
            let answer = try await httpCall(.POST, gateway.baseURL + path, body: body)
            #expect(answer.status == 202, "\(answer.body)")
        }
    }

    @Test("SSE: each subscriber gets only the events its filter keeps")
    func sseFilterPerSubscriber() async throws {
        try await withGateway(["a.json": Self.api("orders", flows: Self.tenantFilter)]) { gateway in
            try await Self.publish(
                gateway, "/orders",
                [#"{"tenant":"acme","n":1}"#, #"{"tenant":"globex","n":2}"#, #"{"tenant":"acme","n":3}"#])
            let acme = try await SSEReader.open(gateway.baseURL + "/orders", headers: [("X-Tenant", "acme")])
            let globex = try await SSEReader.open(gateway.baseURL + "/orders", headers: [("X-Tenant", "globex")])
            #expect(acme.status == 200)
            let acmeEvents = try await within(.seconds(20)) {
                [try await acme.nextMessage()?.data, try await acme.nextMessage()?.data]
            }
            #expect(acmeEvents == [#"{"tenant":"acme","n":1}"#, #"{"tenant":"acme","n":3}"#])
            let globexFirst = try await within(.seconds(20)) { try await globex.nextMessage()?.data }
            #expect(globexFirst == #"{"tenant":"globex","n":2}"#)
            // A later event reaches only its tenant: globex's next one is n=5, not acme's n=4.
            try await Self.publish(gateway, "/orders", [#"{"tenant":"acme","n":4}"#, #"{"tenant":"globex","n":5}"#])
            let globexNext = try await within(.seconds(20)) { try await globex.nextMessage()?.data }
            #expect(globexNext == #"{"tenant":"globex","n":5}"#)
        }
    }

    @Test("http-get: filtered polls, the cursor moving past dropped messages; subscribe-phase cloud-events")
    func httpGetFilterAndCloudEvents() async throws {
        let flows = """
            [{ "name": "f", "enabled": true, "subscribe": [
                { "policy": "message-filtering", "configuration": { "filter": "{#jsonPath(#message.content, '$.tenant') == #request.headers['X-Tenant'][0]}" } },
                { "policy": "cloud-events", "configuration": { "id": "{#message.id}", "type": "order", "source": "/orders" } }] }]
            """
        try await withGateway(["a.json": Self.api("orders", flows: flows)]) { gateway in
            try await Self.publish(gateway, "/orders", [#"{"tenant":"acme"}"#, #"{"tenant":"globex"}"#])
            let answer = try await httpCall(
                .GET, gateway.baseURL + "/orders", headers: [("Accept", "application/json"), ("X-Tenant", "globex")])
            #expect(answer.status == 200)
            let items = answer.json?["items"]?.arrayValue ?? []
            #expect(items.count == 1, "\(answer.body)")
            let event = try JSONValue.parse(json: Data((items.first?["content"]?.stringValue ?? "").utf8))
            #expect(event["specversion"] == .string("1.0"))
            #expect(event["type"] == .string("order"))
            #expect(event["data"]?["tenant"] == .string("globex"))
            #expect(event["id"] == items.first?["id"])
        }
    }

    @Test("http-post: json-validation refuses with 400 and Gravitee's key; a valid message is published")
    func postValidation() async throws {
        let flows = #"""
            [{ "name": "v", "enabled": true, "publish": [{ "policy": "json-validation", "configuration": {
               "schema": "{\"type\":\"object\",\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"integer\"}}}" } }] }]
            """#
        try await withGateway(["a.json": Self.api("orders", flows: flows)]) { gateway in
            let invalid = try await httpCall(.POST, gateway.baseURL + "/orders", body: #"{"id":"x"}"#)
            #expect(invalid.status == 400)
            #expect(invalid.json?["key"]?.stringValue == "JSON_INVALID_MESSAGE_REQUEST_PAYLOAD")
            let notJSON = try await httpCall(.POST, gateway.baseURL + "/orders", body: "nope")
            #expect(notJSON.json?["key"]?.stringValue == "JSON_INVALID_MESSAGE_REQUEST_FORMAT")
            let valid = try await httpCall(.POST, gateway.baseURL + "/orders", body: #"{"id":7}"#)
            #expect(valid.status == 202)
            let polled = try await httpCall(
                .GET, gateway.baseURL + "/orders", headers: [("Accept", "application/json")])
            #expect(polled.json?["items"]?.arrayValue?.map { $0["content"]?.stringValue } == [#"{"id":7}"#])
        }
    }

    @Test("assign-attributes in the request and publish phases reach the endpoint with the message")
    func attributesReachTheEndpoint() async throws {
        let flows = """
            [{ "name": "a", "enabled": true,
               "request": [{ "policy": "assign-attributes", "condition": "{#request.method == 'POST'}", "configuration": { "attributes": [
                  { "name": "gravitee.attribute.kafka.topics", "value": "{#request.headers['X-Topic'][0]}" }] } }],
               "publish": [{ "policy": "policy-assign-attributes", "configuration": { "attributes": [
                  { "name": "gravitee.attribute.kafka.recordKey", "value": "{#jsonPath(#message.content, '$.id')}" }] } }],
               "subscribe": [{ "policy": "transform-headers", "configuration": { "addHeaders": [
                  { "name": "X-Topics", "value": "{#message.attributes['gravitee.attribute.kafka.topics']}" },
                  { "name": "X-Key", "value": "{#message.attributes['gravitee.attribute.kafka.recordKey']}" }] } }] }]
            """
        try await withGateway(["a.json": Self.api("orders", flows: flows)]) { gateway in
            let posted = try await httpCall(
                .POST, gateway.baseURL + "/orders", headers: [("X-Topic", "orders-eu")], body: #"{"id":"o-1"}"#)
            #expect(posted.status == 202)
            // The embedded log keeps each message whole, attributes included: the subscribe phase shows them.
            let polled = try await httpCall(
                .GET, gateway.baseURL + "/orders", headers: [("Accept", "application/json")])
            let headers = polled.json?["items"]?.arrayValue?.first?["headers"]
            #expect(headers?["X-Topics"]?.arrayValue?.first?.stringValue == "orders-eu", "\(polled.body)")
            #expect(headers?["X-Key"]?.arrayValue?.first?.stringValue == "o-1", "\(polled.body)")
        }
    }

    @Test("WebSocket: the request phase runs once per connection, before the first message")
    func webSocketRequestPhaseOnce() async throws {
        let flows = """
            [{ "name": "count", "enabled": true,
               "request": [{ "policy": "assign-attributes", "configuration": { "scope": "REQUEST", "attributes": [
                 { "name": "runs", "value": "{#context.attributes['runs'] == null ? 'once' : 'more than once'}" }] } }],
               "publish": [{ "policy": "assign-content", "configuration": { "body": "{#context.attributes['runs']}" } }] }]
            """
        try await withGateway(["a.json": Self.api("counted", flows: flows)]) { gateway in
            try await within(.seconds(20)) {
                try await TestWebSocket.session(port: gateway.port, path: "/counted") { socket in
                    try await socket.send(.text("hello"))
                    try await socket.close()
                }
            }
            try await Task.sleep(for: .milliseconds(200))
            let polled = try await httpCall(
                .GET, gateway.baseURL + "/counted", headers: [("Accept", "application/json")])
            #expect(polled.json?["items"]?.arrayValue?.map { $0["content"]?.stringValue } == ["once"], "\(polled.body)")
        }
    }

    @Test("WebSocket: publish-phase filter drops messages; subscribe-phase assign-content rewrites each frame")
    func webSocket() async throws {
        let publishFlows = """
            [{ "name": "p", "enabled": true, "publish": [{ "policy": "message-filtering", "configuration": {
               "filter": "{#message.content != 'drop me'}" } }] }]
            """
        let mock = Definitions.mock(id: "ticks", path: "/ticks", interval: 5, count: 2, content: "tick")
            .replacingOccurrences(
                of: #""flows": []"#,
                with: #"""
                    "flows": [{ "name": "s", "enabled": true, "subscribe": [{ "policy": "assign-content", "configuration": {
                      "body": "<{#message.content}/>" } }] }]
                    """#)
        try await withGateway(["a.json": Self.api("orders", flows: publishFlows), "b.json": mock]) { gateway in
            try await within(.seconds(20)) {
                try await TestWebSocket.session(port: gateway.port, path: "/orders") { socket in
                    try await socket.send(.text("keep me"))
                    try await socket.send(.text("drop me"))
                    try await socket.send(.text("keep me too"))
                    try await socket.close()
                }
            }
            try await Task.sleep(for: .milliseconds(200))
            let polled = try await httpCall(
                .GET, gateway.baseURL + "/orders", headers: [("Accept", "application/json")])
            #expect(
                polled.json?["items"]?.arrayValue?.map { $0["content"]?.stringValue } == ["keep me", "keep me too"],
                "\(polled.body)")
            let (messages, close) = try await within(.seconds(20)) {
                try await TestWebSocket.session(port: gateway.port, path: "/ticks") { socket in
                    let (messages, close) = try await socket.readUntilClose()
                    return (messages, close?.code)
                }
            }
            #expect(messages == [.text("<tick/>"), .text("<tick/>")])
            #expect(close == 1000)
        }
    }

    @Test("matchRequired: a request no flow matches is 404 FLOW_EXECUTION_FLOW_MATCHED_FAILURE")
    func matchRequired() async throws {
        let flows = """
            [{ "name": "only /orders/eu", "enabled": true, "selectors": [{ "type": "http", "path": "/eu", "pathOperator": "STARTS_WITH" }] }]
            """
        let api = Self.api("orders", flows: flows).replacingOccurrences(
            of: #""plans": []"#, with: #""plans": [], "flowExecution": { "matchRequired": true }"#)
        try await withGateway(["a.json": api]) { gateway in
            let missed = try await httpCall(.POST, gateway.baseURL + "/orders/us", body: "x")
            #expect(missed.status == 404)
            #expect(missed.json?["key"]?.stringValue == "FLOW_EXECUTION_FLOW_MATCHED_FAILURE")
            let matched = try await httpCall(.POST, gateway.baseURL + "/orders/eu", body: "x")
            #expect(matched.status == 202)
        }
    }

    @Test("latency delays the request phase without failing it")
    func latency() async throws {
        let flows = """
            [{ "name": "slow", "enabled": true, "request": [{ "policy": "latency", "configuration": { "time": 300, "timeUnit": "MILLISECONDS" } }] }]
            """
        try await withGateway(["a.json": Self.api("orders", flows: flows)]) { gateway in
            let started = ContinuousClock.now
            let answer = try await httpCall(.POST, gateway.baseURL + "/orders", body: "x")
            #expect(answer.status == 202)
            #expect(ContinuousClock.now - started >= .milliseconds(300))
        }
    }
}
