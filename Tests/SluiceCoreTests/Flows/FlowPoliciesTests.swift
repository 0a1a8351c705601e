import Foundation
import NIOCore
import Testing

@testable import SluiceCore

/// Each policy the flow engine runs, on its own: Gravitee's configuration fields, what it does, its error keys.
@Suite("flow policies")
struct FlowPoliciesTests {
    static func policy(_ id: String, _ configuration: String, phase: FlowPhase = .subscribe) throws -> any FlowPolicy {
        var diagnostics = DiagnosticCollector()
        let object = try #require(try JSONValue.parse(json: Data(configuration.utf8)).objectValue)
        let spec = try #require(FlowPolicies.spec(for: id))
        let policy = spec.parse(ConfigurationReader(object, at: JSONPath("c")), phase, &diagnostics)
        #expect(diagnostics.diagnostics.filter { $0.severity == .error }.isEmpty, "\(diagnostics.diagnostics)")
        return try #require(policy)
    }

    static func scope(_ message: Message? = nil, attributes: [String: ExpressionValue] = [:]) -> ExpressionScope {
        var variables: [String: ExpressionValue] = [
            "request": .object(
                RequestExpressionObject(
                    FlowRequest(
                        path: "/", method: "GET", entrypoint: "sse", operations: [.subscribe],
                        headers: [("X-Tenant", "acme")]))),
            "context": .map(["attributes": .map(attributes)]),
            "api": .map(["properties": .map([:])]),
            "subscription": .object(SubscriptionExpressionObject(nil)),
        ]
        if let message { variables["message"] = .object(MessageExpressionObject(message)) }
        return ExpressionScope(variables)
    }

    static func run(_ policy: any FlowPolicy, _ message: Message) -> (FlowStepResult, Message) {
        var message = message
        let result = policy.apply(to: &message, exchange: FlowExchange(phase: .subscribe), scope: scope(message))
        return (result, message)
    }

    static func text(_ message: Message) -> String { String(buffer: message.content) }

    static func failure(_ result: FlowStepResult) -> GatewayError? {
        if case .fail(let error) = result { return error }
        return nil
    }

    @Test("message-filtering keeps what the filter holds true for; drops the rest and what it cannot evaluate")
    func messageFiltering() throws {
        let policy = try Self.policy(
            "message-filtering", #"{ "filter": "{#jsonPath(#message.content, '$.type') == 'created'}" }"#)
        #expect(Self.run(policy, Message(content: ByteBuffer(string: #"{"type":"created"}"#))).0 == .proceed)
        #expect(Self.run(policy, Message(content: ByteBuffer(string: #"{"type":"deleted"}"#))).0 == .drop)
        #expect(Self.run(policy, Message(content: ByteBuffer(string: "not json"))).0 == .drop)
    }

    @Test("transform-headers: set, append, remove, whitelist, in that order; null sets nothing; errors are 500")
    func transformHeaders() throws {
        let policy = try Self.policy(
            "transform-headers",
            #"""
            { "scope": "REQUEST",
              "addHeaders": [{ "name": "X-Copy", "value": "{#message.headers['x-a'][0]}" },
                             { "name": "X-A", "value": "replaced" }, { "name": "X-None", "value": "{#message.headers['nope']}" }],
              "appendHeaders": [{ "name": "X-A", "value": "second" }],
              "removeHeaders": ["X-Drop"], "whitelistHeaders": [] }
            """#)
        let (result, message) = Self.run(
            policy, Message(content: ByteBuffer(), headers: [("X-A", "one"), ("X-Drop", "d"), ("X-Keep", "k")]))
        #expect(result == .proceed)
        #expect(message.headers["X-Copy"] == ["one"])
        #expect(message.headers["X-A"] == ["replaced", "second"])
        #expect(message.headers["X-Drop"].isEmpty)
        #expect(message.headers["X-None"].isEmpty)
        #expect(message.headers["X-Keep"] == ["k"])

        let whitelist = try Self.policy("transform-headers", #"{ "whitelistHeaders": ["x-keep"] }"#)
        let (_, kept) = Self.run(
            whitelist, Message(content: ByteBuffer(), headers: [("X-Keep", "k"), ("X-Other", "o")]))
        #expect(kept.headers.fields.map(\.name) == ["X-Keep"])

        let failing = try Self.policy(
            "transform-headers", #"{ "addHeaders": [{ "name": "X-Bad", "value": "{#message.headers['none'][0]}" }] }"#)
        let error = Self.failure(Self.run(failing, Message(content: ByteBuffer())).0)
        #expect(error?.status == 500)
        #expect(error?.key == "TRANSFORM_HEADERS_FAILURE")
        // Request phase: on the exchange's headers.
        var exchange = FlowExchange(phase: .request, headers: [("X-Remove", "1")])
        let request = try Self.policy(
            "transform-headers",
            #"{ "addHeaders": [{ "name": "X-T", "value": "{#request.headers['X-Tenant'][0]}" }], "removeHeaders": ["x-remove"] }"#,
            phase: .request)
        #expect(request.apply(to: &exchange, scope: Self.scope()) == .proceed)
        #expect(exchange.headers.fields.map(\.name) == ["X-T"])
        #expect(exchange.headers["X-T"] == ["acme"])
    }

    @Test("assign-attributes: context attributes in the request phase, message attributes in message phases")
    func assignAttributes() throws {
        let configuration = #"""
            { "scope": "REQUEST", "attributes": [
                { "name": "gravitee.attribute.kafka.recordKey", "value": "{#jsonPath(#message.content, '$.id')}" },
                { "name": "skipped", "value": "{#message.headers['absent']}" }] }
            """#
        let policy = try Self.policy("assign-attributes", configuration, phase: .publish)
        let (_, message) = Self.run(policy, Message(content: ByteBuffer(string: #"{"id":"o-7"}"#)))
        #expect(message.attributes == ["gravitee.attribute.kafka.recordKey": "o-7"])

        let request = try Self.policy(
            "policy-assign-attributes",
            #"{ "attributes": [{ "name": "tenant", "value": "{#request.headers['X-Tenant'][0]}" }, { "name": "n", "value": "{#request.timestamp + 2}" }] }"#,
            phase: .request)
        var exchange = FlowExchange(phase: .request)
        _ = request.apply(to: &exchange, scope: Self.scope())
        #expect(exchange.attributes["tenant"] == .string("acme"))
        #expect(exchange.attributes["n"] == .int(2))
    }

    @Test("assign-content replaces the content with the template's text")
    func assignContent() throws {
        let policy = try Self.policy(
            "policy-assign-content", #"{ "body": "{\"order\":\"{#jsonPath(#message.content, '$.id')}\"}" }"#)
        let (result, message) = Self.run(policy, Message(content: ByteBuffer(string: #"{"id":"o-7","x":1}"#)))
        #expect(result == .proceed)
        #expect(Self.text(message) == #"{"order":"o-7"}"#)
        let failing = try Self.policy("assign-content", #"{ "body": "{#message.headers['none'][0]}" }"#)
        #expect(Self.failure(Self.run(failing, Message(content: ByteBuffer())).0)?.key == "ASSIGN_CONTENT_ERROR")
    }

    @Test("json-xml under the root element, with Content-Type; not a JSON object is JSON_INVALID_MESSAGE_PAYLOAD")
    func jsonToXML() throws {
        let policy = try Self.policy("json-xml", #"{ "rootElement": "order" }"#, phase: .publish)
        let (result, message) = Self.run(
            policy, Message(content: ByteBuffer(string: #"{"id":7,"items":["a","b"],"customer":{"name":"A&B"}}"#)))
        #expect(result == .proceed)
        #expect(
            Self.text(message)
                == "<order><id>7</id><items>a</items><items>b</items><customer><name>A&amp;B</name></customer></order>")
        #expect(message.headers["Content-Type"] == ["application/xml;charset=UTF-8"])
        let error = Self.failure(Self.run(policy, Message(content: ByteBuffer(string: "[1]"))).0)
        #expect(error?.status == 400)
        #expect(error?.key == "JSON_INVALID_MESSAGE_PAYLOAD")
        let subscribe = try Self.policy("json-xml", "{}")
        #expect(Self.failure(Self.run(subscribe, Message(content: ByteBuffer(string: "nope"))).0)?.status == 500)
    }

    @Test("xml-json: elements, attributes, repeated elements, typed text; not XML is XML_INVALID_MESSAGE_PAYLOAD")
    func xmlToJSON() throws {
        let policy = try Self.policy("xml-json", "{}")
        let (result, message) = Self.run(
            policy,
            Message(
                content: ByteBuffer(
                    string:
                        #"<order id="7"><item>a</item><item>b</item><paid>true</paid><note lang="en">hi</note></order>"#
                )))
        #expect(result == .proceed)
        let json = try JSONValue.parse(json: Data(Self.text(message).utf8))
        #expect(json["order"]?["id"] == .number(7))
        #expect(json["order"]?["item"] == .array([.string("a"), .string("b")]))
        #expect(json["order"]?["paid"] == .bool(true))
        #expect(json["order"]?["note"]?["content"] == .string("hi"))
        #expect(json["order"]?["note"]?["lang"] == .string("en"))
        #expect(message.headers["Content-Type"] == ["application/json"])
        let error = Self.failure(Self.run(policy, Message(content: ByteBuffer(string: "<a><b></a>"))).0)
        #expect(error?.status == 500)
        #expect(error?.key == "XML_INVALID_MESSAGE_PAYLOAD")
    }

    @Test("json-validation: type, properties, required, enum, items, bounds, pattern, additionalProperties")
    func jsonValidation() throws {
        let schema = #"""
            {"type":"object","required":["id","kind"],"additionalProperties":false,"properties":{
              "id":{"type":"integer","minimum":1,"maximum":100},
              "kind":{"enum":["created","deleted"]},
              "code":{"type":"string","pattern":"^[A-Z]{3}$","minLength":3,"maxLength":3},
              "tags":{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":2}}}
            """#
        let escaped = schema.replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: " ")
        let publish = try Self.policy("json-validation", #"{ "schema": "\#(escaped)" }"#, phase: .publish)
        func check(_ content: String) -> GatewayError? {
            Self.failure(Self.run(publish, Message(content: ByteBuffer(string: content))).0)
        }
        #expect(check(#"{"id":5,"kind":"created","code":"ABC","tags":["a"]}"#) == nil)
        for bad in [
            #"{"kind":"created"}"#, #"{"id":5,"kind":"other"}"#, #"{"id":0,"kind":"created"}"#,
            #"{"id":5.5,"kind":"created"}"#, #"{"id":5,"kind":"created","code":"abc"}"#,
            #"{"id":5,"kind":"created","tags":[]}"#, #"{"id":5,"kind":"created","tags":[1]}"#,
            #"{"id":5,"kind":"created","extra":true}"#, #"[1]"#,
        ] {
            let error = check(bad)
            #expect(error?.status == 400, "\(bad)")
            #expect(error?.key == "JSON_INVALID_MESSAGE_REQUEST_PAYLOAD", "\(bad)")
        }
        #expect(check("not json")?.key == "JSON_INVALID_MESSAGE_REQUEST_FORMAT")
        let subscribe = try Self.policy(
            "json-validation", #"{ "schema": "{\"type\":\"object\"}", "errorMessage": "bad {#message.contentLength}" }"#
        )
        let error = Self.failure(Self.run(subscribe, Message(content: ByteBuffer(string: "[]"))).0)
        #expect(error?.key == "JSON_INVALID_MESSAGE_RESPONSE_PAYLOAD")
        #expect(error?.message == "bad 2")
        let straight = try Self.policy(
            "json-validation", #"{ "schema": "{\"type\":\"object\"}", "straightRespondMode": true }"#)
        #expect(Self.run(straight, Message(content: ByteBuffer(string: "[]"))).0 == .proceed)
    }

    @Test("cloud-events wraps the message as a CloudEvents 1.0 JSON event")
    func cloudEvents() throws {
        let policy = try Self.policy(
            "cloud-events",
            #"{ "id": "{#message.id}", "type": "order.created", "source": "/orders/{#message.metadata['topic']}", "subject": "s" }"#
        )
        let message = Message(
            id: "42", content: ByteBuffer(string: #"{"id":7}"#), headers: [("Content-Type", "application/json")],
            metadata: ["topic": "t1"], timestamp: 1_700_000_000_000)
        let (result, wrapped) = Self.run(policy, message)
        #expect(result == .proceed)
        let event = try JSONValue.parse(json: Data(Self.text(wrapped).utf8))
        #expect(event["specversion"] == .string("1.0"))
        #expect(event["id"] == .string("42"))
        #expect(event["type"] == .string("order.created"))
        #expect(event["source"] == .string("/orders/t1"))
        #expect(event["subject"] == .string("s"))
        #expect(event["datacontenttype"] == .string("application/json"))
        #expect(event["data"]?["id"] == .number(7))
        #expect(event["time"]?.stringValue?.hasPrefix("2023-11-14T22:13:20") == true)
        #expect(wrapped.headers["Content-Type"] == ["application/cloudevents+json"])
        let text = Self.run(policy, Message(id: "1", content: ByteBuffer(string: "plain")))
        #expect(try JSONValue.parse(json: Data(Self.text(text.1).utf8))["data"] == .string("plain"))
        // No id: the event cannot be made.
        let error = Self.failure(Self.run(policy, Message(content: ByteBuffer(string: "x"))).0)
        #expect(error?.status == 500)
        #expect(error?.key == "CLOUD_EVENTS_TRANSFORMATION_ERROR")
    }

    @Test("latency asks the runner to wait, in the configured unit")
    func latency() throws {
        #expect(
            Self.run(
                try Self.policy("latency", #"{ "time": 2, "timeUnit": "SECONDS" }"#), Message(content: ByteBuffer())
            ).0 == .delay(.seconds(2)))
        #expect(
            Self.run(try Self.policy("latency", #"{ "time": 30 }"#), Message(content: ByteBuffer())).0
                == .delay(.milliseconds(30)))
    }
}
