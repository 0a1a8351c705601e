import Foundation
import GatewayTestSupport
import HummingbirdWSClient
import Logging
import MQTT5TestSupport
import NIOCore
import NIOWebSocket
import Testing

/// Publishing through the gateway to a real mosquitto, checked on the broker side with paho-mqtt: what a client
/// POSTs or sends over a WebSocket, paho reads with the same content and user properties.
@Suite(
    "mqtt5 endpoint: publishing over http-post and WebSocket", .serialized,
    .enabled(if: MQTT5EndpointTestEnvironment.enabled, MQTT5EndpointTestEnvironment.skipReason))
struct MQTT5PublishTests {
    static let logger = Logger(label: "mqtt5-publish-test")

    @Test(
        "http-post × none and auto: 202 once acknowledged; paho reads the same content and user properties, QoS 1",
        arguments: ["none", "auto"])
    func httpPost(qos: String) async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("post")
            let api = MQTT5API.definition(
                id: "orders", path: "/orders", port: broker.port,
                entrypoints:
                    "[\(MQTT5API.entrypoint("http-post", qos: qos, configuration: #"{ "requestHeadersToMessage": true }"#))]",
                shared: "{ \(MQTT5API.producer(topic)) }")
            try await withMQTT5Gateway(["orders.json": api]) { gateway in
                let paho = try PahoOracle()
                let subscriber = try await paho.subscribe(port: broker.port, topic: topic, qos: .atLeastOnce, count: 11)
                let response = try await httpCall(
                    .POST, "\(gateway.baseURL)/orders",
                    headers: [("X-Order", "42"), ("X-Gravitee-Client-Identifier", "client-a")], body: #"{"order":1}"#)
                #expect(response.status == 202, "\(response.body)")
                #expect(response.header("X-Gravitee-Client-Identifier") == "client-a")
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<10 {
                        group.addTask {
                            try await httpCall(.POST, "\(gateway.baseURL)/orders", body: "message \(index)").status
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.allSatisfy { $0 == 202 }, "\(statuses)")

                let messages = try await subscriber.messages()
                #expect(messages.count == 11)
                let first = try #require(messages.first { $0.payloadBytes == Array(#"{"order":1}"#.utf8) })
                #expect(first.qos == 1, "the gateway publishes at QoS 1")
                #expect(first.retain == false)
                let properties = Dictionary(
                    first.properties.userProperties.map { ($0[0].lowercased(), $0[1]) }, uniquingKeysWith: { a, _ in a }
                )
                #expect(properties["x-order"] == "42")
                #expect(properties["x-gravitee-client-identifier"] == "client-a")
                let contents = Set(messages.map { String(decoding: $0.payloadBytes, as: UTF8.self) })
                #expect(contents == Set((0..<10).map { "message \($0)" } + [#"{"order":1}"#]))
            }
        }
    }

    @Test("producer settings: retained, messageExpiryInterval and responseTopic reach the broker with each message")
    func producerSettings() async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("retained")
            let api = MQTT5API.definition(
                id: "retained", path: "/retained", port: broker.port,
                entrypoints: "[\(MQTT5API.entrypoint("http-post", qos: "auto"))]",
                shared: """
                    { \(MQTT5API.producer(topic, extra: #", "retained": true, "messageExpiryInterval": 600, "responseTopic": "replies/here""#)) }
                    """)
            try await withMQTT5Gateway(["retained.json": api]) { gateway in
                let response = try await httpCall(.POST, "\(gateway.baseURL)/retained", body: "kept")
                #expect(response.status == 202, "\(response.body)")
                // Subscribed after the publish: only a retained message arrives.
                let paho = try PahoOracle()
                let subscriber = try await paho.subscribe(port: broker.port, topic: topic, qos: .atLeastOnce, count: 1)
                let message = try #require(try await subscriber.messages().first)
                #expect(message.payloadBytes == Array("kept".utf8))
                #expect(message.retain)
                #expect(message.properties.responseTopic == "replies/here")
                let expiry = try #require(message.properties.messageExpiryInterval)
                #expect(expiry <= 600 && expiry > 500)
            }
        }
    }

    @Test(
        "the broker refuses the publish (PUBACK 0x87, not authorized): 503 MQTT5_REFUSED, never 202; a WebSocket closes with 1011"
    )
    func brokerRefuses() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-mqtt5-acl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let acl = directory.appendingPathComponent("acl")
        // Anonymous clients may read everything and write only under allowed/.
        try "topic read #\ntopic readwrite allowed/#\n".write(to: acl, atomically: true, encoding: .utf8)
        try await withMosquitto(["acl_file \(acl.path)"]) { broker in
            let api = MQTT5API.definition(
                id: "refused", path: "/refused", port: broker.port,
                entrypoints: """
                    [\(MQTT5API.entrypoint("http-post", qos: "auto")),
                     \(MQTT5API.entrypoint("websocket", qos: "auto", configuration: #"{ "subscriber": { "enabled": false } }"#))]
                    """,
                shared: "{ \(MQTT5API.producer("forbidden/topic")) }")
            let allowed = MQTT5API.definition(
                id: "allowed", path: "/allowed", port: broker.port,
                entrypoints: "[\(MQTT5API.entrypoint("http-post", qos: "auto"))]",
                shared: "{ \(MQTT5API.producer("allowed/topic")) }")
            try await withMQTT5Gateway(["refused.json": api, "allowed.json": allowed]) { gateway in
                let refused = try await httpCall(.POST, "\(gateway.baseURL)/refused", body: "no")
                #expect(refused.status == 503, "\(refused.body)")
                #expect(refused.json?["key"]?.stringValue == "MQTT5_REFUSED")
                #expect(refused.json?["message"]?.stringValue?.contains("0x87") == true, "\(refused.body)")
                // The same broker takes what the ACL allows.
                #expect(try await httpCall(.POST, "\(gateway.baseURL)/allowed", body: "yes").status == 202)
                // A WebSocket frame the broker refuses closes the socket with 1011 and the key.
                let close = try await within(.seconds(30), "the websocket session") {
                    try await WebSocketClient.connect(
                        url: "ws://127.0.0.1:\(gateway.port)/refused", logger: Self.logger
                    ) { inbound, outbound, _ in
                        try await outbound.write(.text("no"))
                        for try await _ in inbound.messages(maxSize: 1 << 20) {}
                    }
                }
                #expect(close?.closeCode == .unexpectedServerError)
                #expect(close?.reason?.hasPrefix("MQTT5_REFUSED") == true, "\(String(describing: close?.reason))")
            }
        }
    }

    @Test(
        "websocket publisher × none and auto: each frame is published before the next is read; paho reads them",
        arguments: ["none", "auto"])
    func webSocketPublish(qos: String) async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("ws-pub")
            let api = MQTT5API.definition(
                id: "wspub", path: "/wspub", port: broker.port,
                entrypoints: """
                    [\(MQTT5API.entrypoint("websocket", qos: qos, configuration: #"{ "publisher": { "enabled": true }, "subscriber": { "enabled": false } }"#))]
                    """,
                shared: "{ \(MQTT5API.producer(topic)) }")
            try await withMQTT5Gateway(["wspub.json": api]) { gateway in
                let paho = try PahoOracle()
                let subscriber = try await paho.subscribe(port: broker.port, topic: topic, qos: .atLeastOnce, count: 3)
                let close = try await within(.seconds(30), "the websocket session") {
                    try await WebSocketClient.connect(
                        url: "ws://127.0.0.1:\(gateway.port)/wspub", logger: Self.logger
                    ) { _, outbound, _ in
                        for index in 0..<3 { try await outbound.write(.text("frame \(index)")) }
                        // Closing after the frames: the gateway publishes what it read first.
                        try await Task.sleep(for: .milliseconds(300))
                        try await outbound.close(.normalClosure, reason: nil)
                    }
                }
                #expect(close?.closeCode == .normalClosure)
                let messages = try await subscriber.messages()
                #expect(
                    messages.map { String(decoding: $0.payloadBytes, as: UTF8.self) } == [
                        "frame 0", "frame 1", "frame 2",
                    ])
            }
        }
    }
}
