import Foundation
import GatewayTestSupport
import HummingbirdWSClient
import Logging
import MQTT5TestSupport
import NIOCore
import NIOWebSocket
import Synchronization
import Testing

/// Subscribers of a real mosquitto: what paho publishes arrives over SSE, WebSocket and http-get, with user
/// properties as headers and topic, QoS and retain as metadata; one shared subscription per client identifier.
@Suite(
    "mqtt5 endpoint: subscribing over SSE, WebSocket and http-get", .serialized,
    .enabled(if: MQTT5EndpointTestEnvironment.enabled, MQTT5EndpointTestEnvironment.skipReason))
struct MQTT5SubscribeTests {
    static let logger = Logger(label: "mqtt5-subscribe-test")

    static func sseAPI(port: Int, topic: String, qos: String) -> String {
        MQTT5API.definition(
            id: "stream", path: "/stream", port: port,
            entrypoints: """
                [\(MQTT5API.entrypoint("sse", qos: qos, configuration: #"{ "heartbeatIntervalInMs": 1000, "headersAsComment": true, "metadataAsComment": true }"#))]
                """,
            shared: "{ \(MQTT5API.consumer(topic)) }")
    }

    @Test(
        "sse × none and auto: paho's messages arrive with user properties as headers, topic and QoS as metadata",
        arguments: ["none", "auto"])
    func sse(qos: String) async throws {
        try await withMosquitto { broker in
            let base = uniqueTopic("sse")
            try await withMQTT5Gateway(["stream.json": Self.sseAPI(port: broker.port, topic: "\(base)/+", qos: qos)]) {
                gateway in
                let stream = try await RawSSEClient.open(
                    port: gateway.port, path: "/stream", headers: [("X-Gravitee-Client-Identifier", "reader-\(qos)")])
                #expect(stream.status == 200)
                #expect(stream.header("X-Gravitee-Client-Identifier") == "reader-\(qos)")
                var messages = (0..<3).map {
                    pahoMessage(topic: "\(base)/d\($0)", "m\($0)", userProperties: [("h", "v\($0)")])
                }
                // The publication's other properties travel as metadata too.
                var properties = messages[0].mqttProperties
                properties.contentType = "text/plain"
                properties.responseTopic = "replies/here"
                properties.correlationData = ByteBuffer(bytes: [1, 2, 3])
                properties.messageExpiryInterval = 600
                messages[0] = PahoMessage(
                    topic: messages[0].topic, payload: messages[0].payloadBytes, qos: .atLeastOnce,
                    properties: properties)
                try await PahoOracle().publish(port: broker.port, messages)
                let events = try await within(.seconds(30), "three messages") { try await stream.messages(3) }
                let first = try #require(events.first)
                #expect(first.comments.contains("contentType: text/plain"), "\(first.comments)")
                #expect(first.comments.contains("responseTopic: replies/here"), "\(first.comments)")
                #expect(first.comments.contains("correlationData: AQID"), "\(first.comments)")
                #expect(
                    first.comments.contains { $0.hasPrefix("messageExpiryInterval: ") && $0.count > 23 },
                    "\(first.comments)")
                #expect(events.compactMap(\.data) == ["m0", "m1", "m2"])
                for (index, event) in events.enumerated() {
                    #expect(event.comments.contains("h: v\(index)"), "\(event.comments)")
                    #expect(event.comments.contains("topic: \(base)/d\(index)"), "\(event.comments)")
                    // none subscribes at QoS 0 (the broker downgrades), auto at QoS 1.
                    #expect(event.comments.contains("qos: \(qos == "none" ? 0 : 1)"), "\(event.comments)")
                    #expect(event.comments.contains("retain: false"), "\(event.comments)")
                }
                await stream.close()
            }
        }
    }

    @Test(
        "websocket × none and auto: paho's messages arrive as frames in order",
        arguments: ["none", "auto"])
    func webSocket(qos: String) async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("ws")
            let api = MQTT5API.definition(
                id: "ws", path: "/ws", port: broker.port,
                entrypoints: "[\(MQTT5API.entrypoint("websocket", qos: qos))]",
                shared: "{ \(MQTT5API.consumer(topic)), \(MQTT5API.producer(topic)) }")
            try await withMQTT5Gateway(["ws.json": api]) { gateway in
                let received = Mutex<[WebSocketMessage]>([])
                let opened = Mutex(false)
                let session = Task {
                    try await WebSocketClient.connect(
                        url: "ws://127.0.0.1:\(gateway.port)/ws?X-Gravitee-Client-Identifier=ws-\(qos)",
                        logger: Self.logger
                    ) { inbound, outbound, _ in
                        opened.withLock { $0 = true }
                        var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                        for _ in 0..<3 {
                            if let message = try await iterator.next() { received.withLock { $0.append(message) } }
                        }
                        // Publishing over the same socket: the frame comes back through the broker.
                        try await outbound.write(.text("from the socket"))
                        if let echoed = try await iterator.next() { received.withLock { $0.append(echoed) } }
                        try await outbound.close(.normalClosure, reason: nil)
                    }
                }
                _ = try await eventually { opened.withLock { $0 } ? true : nil }
                // The subscription is made as the socket opens: publish until the first message comes through.
                let paho = try PahoOracle()
                try await Task.sleep(for: .milliseconds(500))
                try await paho.publish(port: broker.port, (0..<3).map { pahoMessage(topic: topic, "m\($0)") })
                let close = try await within(.seconds(30), "the websocket session") { try await session.value }
                #expect(close?.closeCode == .normalClosure)
                #expect(received.withLock { $0 } == [.text("m0"), .text("m1"), .text("m2"), .text("from the socket")])
            }
        }
    }

    @Test(
        "http-get × auto: a poll's session outlives it, so the next poll gets what was published in between and what the last one did not hand out"
    )
    func httpGet() async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("get")
            let api = MQTT5API.definition(
                id: "poll", path: "/poll", port: broker.port,
                entrypoints: """
                    [\(MQTT5API.entrypoint("http-get", qos: "auto", configuration: #"{ "messagesLimitCount": 5, "messagesLimitDurationMs": 1000, "headersInPayload": true, "metadataInPayload": true }"#))]
                    """,
                shared: "{ \(MQTT5API.consumer(topic)) }")
            try await withMQTT5Gateway(["poll.json": api]) { gateway in
                let url = "\(gateway.baseURL)/poll"
                let first = try await poll(url, clientIdentifier: "poller")
                #expect(first.status == 200, "\(first.body)")
                #expect(first.items.isEmpty)
                try await PahoOracle().publish(
                    port: broker.port,
                    (0..<3).map { pahoMessage(topic: topic, "m\($0)", userProperties: [("h", "v\($0)")]) })
                let second = try await poll(url, clientIdentifier: "poller")
                #expect(second.status == 200, "\(second.body)")
                #expect(second.items.map(\.content) == ["m0", "m1", "m2"])
                #expect(second.items.first?.headers["h"] == ["v0"])
                #expect(second.items.first?.metadata["topic"] == topic)
                #expect(second.items.first?.metadata["qos"] == "1")
                // A poll that hands out fewer than it received leaves the rest unacknowledged in its session: the
                // broker sends them again to the next poll.
                try await PahoOracle().publish(
                    port: broker.port, (3..<6).map { pahoMessage(topic: topic, "m\($0)") })
                try await Task.sleep(for: .milliseconds(200))
                let limited = try await poll(url + "?limit=1", clientIdentifier: "poller")
                #expect(limited.items.map(\.content) == ["m3"], "\(limited.body)")
                let rest = try await poll(url, clientIdentifier: "poller")
                #expect(rest.items.map(\.content) == ["m4", "m5"], "\(rest.body)")
                // Another identifier has a session of its own, made by its first poll: it did not get those.
                let other = try await poll(url, clientIdentifier: "someone-else")
                #expect(other.items.isEmpty)
            }
        }
    }

    @Test("http-get: two polls of one client at once each answer, and share the messages without repeats")
    func concurrentPolls() async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("get-concurrent")
            let api = MQTT5API.definition(
                id: "poll", path: "/poll", port: broker.port,
                entrypoints: """
                    [\(MQTT5API.entrypoint("http-get", qos: "auto", configuration: #"{ "messagesLimitCount": 10, "messagesLimitDurationMs": 3000 }"#))]
                    """,
                shared: "{ \(MQTT5API.consumer(topic)) }")
            try await withMQTT5Gateway(["poll.json": api]) { gateway in
                let url = "\(gateway.baseURL)/poll"
                async let first = poll(url, clientIdentifier: "busy")
                async let second = poll(url, clientIdentifier: "busy")
                try await Task.sleep(for: .milliseconds(1000))
                try await PahoOracle().publish(port: broker.port, (0..<6).map { pahoMessage(topic: topic, "m\($0)") })
                let answers = try await [first, second]
                #expect(answers.allSatisfy { $0.status == 200 }, "\(answers.map(\.body))")
                let contents = answers.flatMap { $0.items.map(\.content) }
                #expect(contents.sorted() == (0..<6).map { "m\($0)" }, "each message once: \(answers.map(\.body))")
                // The client's session is free again: the next poll resumes it.
                #expect(try await poll(url, clientIdentifier: "busy").status == 200)
            }
        }
    }

    @Test(
        "one shared subscription per client identifier: same identifier splits the messages, another gets them all; a client that leaves releases its share at once"
    )
    func sharedSubscriptions() async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("shared")
            try await withMQTT5Gateway(["stream.json": Self.sseAPI(port: broker.port, topic: topic, qos: "auto")]) {
                gateway in
                func open(_ identifier: String) async throws -> RawSSEClient {
                    try await RawSSEClient.open(
                        port: gateway.port, path: "/stream", headers: [("X-Gravitee-Client-Identifier", identifier)])
                }
                let sameA = try await open("team")
                let sameB = try await open("team")
                let other = try await open("solo")
                let paho = try PahoOracle()
                try await paho.publish(port: broker.port, (0..<10).map { pahoMessage(topic: topic, "m\($0)") })

                let solo = try await within(.seconds(30), "solo's ten") { try await other.messages(10) }
                #expect(solo.compactMap(\.data) == (0..<10).map { "m\($0)" })
                let shared = try await collect(from: [sameA, sameB], count: 10)
                #expect(shared.flatMap { $0 }.sorted() == (0..<10).map { "m\($0)" }.sorted(), "each once")
                #expect(shared.allSatisfy { !$0.isEmpty }, "both members got a share: \(shared)")

                // One member leaves: from now on the other gets every message of the group.
                await sameA.close()
                try await Task.sleep(for: .milliseconds(500))
                try await paho.publish(port: broker.port, (10..<16).map { pahoMessage(topic: topic, "m\($0)") })
                let rest = try await within(.seconds(30), "the remaining member's six") { try await sameB.messages(6) }
                #expect(rest.compactMap(\.data) == (10..<16).map { "m\($0)" })
                await sameB.close()
                await other.close()
            }
        }
    }

    @Test("a WebSocket subscriber that closes releases its share of the group at once")
    func webSocketLeaves() async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("ws-leaves")
            let api = MQTT5API.definition(
                id: "both", path: "/both", port: broker.port,
                entrypoints: """
                    [\(MQTT5API.entrypoint("sse", qos: "auto")),
                     \(MQTT5API.entrypoint("websocket", qos: "auto", configuration: #"{ "publisher": { "enabled": false } }"#))]
                    """,
                shared: "{ \(MQTT5API.consumer(topic)) }")
            try await withMQTT5Gateway(["both.json": api]) { gateway in
                let stream = try await RawSSEClient.open(
                    port: gateway.port, path: "/both", headers: [("X-Gravitee-Client-Identifier", "pair")])
                let webSocketReceived = Mutex(0)
                // The WebSocket member reads one message of the group's, then leaves.
                let webSocket = Task {
                    try await WebSocketClient.connect(
                        url: "ws://127.0.0.1:\(gateway.port)/both?X-Gravitee-Client-Identifier=pair",
                        logger: Self.logger
                    ) { inbound, outbound, _ in
                        var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                        if try await iterator.next() != nil { webSocketReceived.withLock { $0 += 1 } }
                        try await outbound.close(.normalClosure, reason: nil)
                    }
                }
                try await Task.sleep(for: .milliseconds(500))
                let paho = try PahoOracle()
                // Round robin between the two members: the WebSocket gets one of the first two.
                try await paho.publish(port: broker.port, (0..<2).map { pahoMessage(topic: topic, "m\($0)") })
                _ = try await within(.seconds(20), "the WebSocket session") { try await webSocket.value }
                #expect(webSocketReceived.withLock { $0 } == 1)
                let first = try await within(.seconds(20), "the SSE member's share") { try await stream.messages(1) }
                try await Task.sleep(for: .milliseconds(500))
                try await paho.publish(port: broker.port, (2..<6).map { pahoMessage(topic: topic, "m\($0)") })
                let rest = try await within(.seconds(20), "every later message") { try await stream.messages(4) }
                #expect(first.count == 1)
                #expect(rest.compactMap(\.data) == ["m2", "m3", "m4", "m5"])
                await stream.close()
            }
        }
    }

    /// Reads message events from `streams` until `count` arrived in all, each stream's data in order.
    func collect(from streams: [RawSSEClient], count: Int) async throws -> [[String]] {
        var received = Array(repeating: [String](), count: streams.count)
        let deadline = ContinuousClock.now + .seconds(30)
        while received.reduce(0, { $0 + $1.count }) < count {
            guard ContinuousClock.now < deadline else {
                throw HarnessFailure("only \(received) of \(count) messages within 30 s")
            }
            for (index, stream) in streams.enumerated() {
                if let event = try? await stream.next(timeout: .milliseconds(200)), event.event == "message",
                    let data = event.data
                {
                    received[index].append(data)
                }
            }
        }
        return received
    }
}
