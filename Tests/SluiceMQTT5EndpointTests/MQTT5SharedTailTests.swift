import Foundation
import GatewayTestSupport
import Logging
import MQTT5TestSupport
import NIOCore
import SluiceCore
import SluiceEndpoints
import SluiceEntrypoints
import Testing

/// Streams whose identifier the gateway made up share one subscription per topic filter (the endpoint's tail)
/// instead of a connection each. Driven on the endpoint directly; paho publishes, and mosquitto's own count of
/// subscriptions checks the broker side.
@Suite(
    "mqtt5 endpoint: streams sharing the tail", .serialized,
    .enabled(if: MQTT5EndpointTestEnvironment.enabled, MQTT5EndpointTestEnvironment.skipReason))
struct MQTT5SharedTailTests {
    @Test("five streams with made-up identifiers each get every message, over one subscription at the broker")
    func sharing() async throws {
        try await withMosquitto(["sys_interval 1"]) { broker in
            let topic = uniqueTopic("shared")
            var configuration = MQTT5EndpointConfiguration(serverHost: "127.0.0.1", serverPort: broker.port)
            configuration.consumer.enabled = true
            configuration.consumer.topic = topic
            let endpoint = MQTT5Endpoint(configuration: configuration, logger: Logger(label: "shared-tail"))
            var sources: [any MessageSource] = []
            for index in 0..<5 {
                sources.append(
                    try await endpoint.subscribe(
                        SubscriptionRequest(
                            clientIdentifier: "made-up-\(index)", clientIdentifierIsGenerated: true,
                            qos: index % 2 == 0 ? .auto : .none, mode: .stream)))
            }
            // mosquitto counts one (plain) subscription for the five streams. Streams on connections of their own
            // would be shared subscriptions, which this count leaves out (it reads 0 then). The count is retained
            // and refreshed every second: read it after the next refresh.
            try await Task.sleep(for: .milliseconds(2_500))
            let paho = try PahoOracle()
            let count = try await paho.subscribe(
                port: broker.port, topic: "$SYS/broker/subscriptions/count", qos: .atMostOnce, count: 1)
            let reported = try await count.messages().first.flatMap { Data(base64Encoded: $0.payload) }
            #expect(reported.map { String(decoding: $0, as: UTF8.self) } == "1")

            let published = (0..<10).map {
                PahoMessage(
                    topic: topic, payload: Array("message \($0)".utf8), qos: .atLeastOnce, properties: .init())
            }
            _ = try await paho.publish(port: broker.port, published)
            for source in sources {
                var received: [String] = []
                let deadline = ContinuousClock.now + .seconds(20)
                while received.count < 10, ContinuousClock.now < deadline {
                    if case .messages(let batch) = try await source.next(maxCount: 10, until: deadline) {
                        received += batch.map { String(buffer: $0.content) }
                    }
                }
                #expect(received == (0..<10).map { "message \($0)" })
            }
            for source in sources { source.close() }
            await endpoint.stop()
        }
    }

    @Test(
        "websocket subscribers without identifiers share the tail: each gets every message in order, text or binary, from the event loop"
    )
    func webSocketSubscribers() async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("ws-tail")
            let api = MQTT5API.definition(
                id: "ws", path: "/ws", port: broker.port,
                entrypoints: "[\(MQTT5API.entrypoint("websocket", qos: "auto"))]",
                shared: "{ \(MQTT5API.consumer(topic)) }")
            let count = 100
            let payloads: [[UInt8]] = (0..<count).map { index in
                index % 5 == 4 ? [0xC3, 0x28, UInt8(index)] : Array("message \(index)".utf8)
            }
            let expected: [TestWebSocket.Message] = payloads.enumerated().map { index, payload in
                index % 5 == 4 ? .binary(payload) : .text(String(decoding: payload, as: UTF8.self))
            }
            let subscribers = 10
            let port = broker.port
            try await withMQTT5Gateway(["ws.json": api]) { gateway in
                let gatewayPort = gateway.port
                let received = try await within(.seconds(90), "the websocket sessions") {
                    try await withThrowingTaskGroup(of: [TestWebSocket.Message]?.self) { group in
                        for _ in 0..<subscribers {
                            group.addTask {
                                try await TestWebSocket.session(port: gatewayPort, path: "/ws") { socket in
                                    var messages: [TestWebSocket.Message] = []
                                    while messages.count < count,
                                        case .message(let message)? = try await socket.next()
                                    {
                                        messages.append(message)
                                    }
                                    try await socket.close()
                                    return messages
                                }
                            }
                        }
                        group.addTask {
                            _ = try await eventually(timeout: .seconds(30)) {
                                WebSocketEntrypoint.ringStreamsActive >= subscribers ? true : nil
                            }
                            _ = try await PahoOracle().publish(
                                port: port,
                                payloads.map {
                                    PahoMessage(topic: topic, payload: $0, qos: .atLeastOnce, properties: .init())
                                })
                            return nil
                        }
                        var all: [[TestWebSocket.Message]] = []
                        for try await messages in group { if let messages { all.append(messages) } }
                        return all
                    }
                }
                #expect(received.count == subscribers)
                for messages in received { #expect(messages == expected) }
            }
        }
    }

    @Test(
        "sse subscribers without identifiers share the tail from the event loop: each gets every message in order with its id"
    )
    func sseSubscribers() async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("sse-tail")
            let api = MQTT5API.definition(
                id: "sse", path: "/sse", port: broker.port,
                entrypoints: "[\(MQTT5API.entrypoint("sse", qos: "auto"))]",
                shared: "{ \(MQTT5API.consumer(topic)) }")
            let count = 100
            let payloads: [String] = (0..<count).map { index in
                index % 5 == 4 ? "message \(index)\r\nsecond line" : "message \(index)"
            }
            let subscribers = 10
            let port = broker.port
            try await withMQTT5Gateway(["sse.json": api]) { gateway in
                let gatewayPort = gateway.port
                let received = try await within(.seconds(90), "the sse streams") {
                    try await withThrowingTaskGroup(of: [ServerSentEvent]?.self) { group in
                        for _ in 0..<subscribers {
                            group.addTask {
                                let stream = try await RawSSEClient.open(port: gatewayPort, path: "/sse")
                                let events = try await stream.messages(count, timeout: .seconds(60))
                                await stream.close()
                                return events
                            }
                        }
                        group.addTask {
                            _ = try await eventually(timeout: .seconds(30)) {
                                SSEEntrypoint.ringStreamsActive >= subscribers ? true : nil
                            }
                            _ = try await PahoOracle().publish(
                                port: port,
                                payloads.map {
                                    PahoMessage(
                                        topic: topic, payload: Array($0.utf8), qos: .atLeastOnce, properties: .init())
                                })
                            return nil
                        }
                        var all: [[ServerSentEvent]] = []
                        for try await events in group { if let events { all.append(events) } }
                        return all
                    }
                }
                #expect(received.count == subscribers)
                let expected = payloads.map { $0.replacingOccurrences(of: "\r\n", with: "\n") }
                let ids = received.first?.map(\.id) ?? []
                for events in received {
                    #expect(events.map(\.data) == expected)
                    #expect(events.map(\.id) == ids)
                }
                _ = try await eventually(timeout: .seconds(10)) { SSEEntrypoint.ringStreamsActive == 0 ? true : nil }
            }
        }
    }

    @Test("an sse subscriber of the tail that does not read holds back no other; once it reads it continues in order")
    func sseSlowSubscriber() async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("sse-tail-slow")
            let api = MQTT5API.definition(
                id: "sse", path: "/sse", port: broker.port,
                entrypoints: "[\(MQTT5API.entrypoint("sse", qos: "none"))]",
                shared: "{ \(MQTT5API.consumer(topic)) }")
            // Far more than the sockets hold: the one that does not read stays behind while the other goes on. No
            // more messages than mosquitto queues for a subscriber (1,000 by default): on a busy machine the tail
            // may lag the publisher, and the broker would drop what is beyond its queue.
            let count = 1_000
            let filler = String(repeating: "f", count: 12_000)
            let port = broker.port
            try await withMQTT5Gateway(["sse.json": api]) { gateway in
                let slow = try await RawSSEClient.open(port: gateway.port, path: "/sse")
                try await slow.pauseReading()
                let fast = try await RawSSEClient.open(port: gateway.port, path: "/sse")
                _ = try await eventually(timeout: .seconds(30)) { SSEEntrypoint.ringStreamsActive >= 2 ? true : nil }
                let publishing = Task {
                    try await PahoOracle().publish(
                        port: port,
                        (0..<count).map {
                            PahoMessage(
                                topic: topic, payload: Array("v\($0) \(filler)".utf8), qos: .atLeastOnce,
                                properties: .init())
                        })
                }
                let events = try await fast.messages(count, timeout: .seconds(120))
                #expect(
                    events.map { String($0.data?.prefix(while: { $0 != " " }) ?? "") } == (0..<count).map { "v\($0)" })
                _ = try await publishing.value
                await fast.close()

                // The slow one reads now: what it gets is in order (it may have skipped what the tail no longer
                // kept) and goes on to the last message.
                try await slow.resumeReading()
                var last = -1
                while last < count - 1 {
                    guard let event = try await slow.nextEvent(timeout: .seconds(60)), event.event == "message",
                        let index = event.data.flatMap({ Int($0.dropFirst().prefix(while: { $0 != " " })) })
                    else {
                        Issue.record("the slow stream ended after v\(last)")
                        break
                    }
                    #expect(index > last)
                    last = index
                }
                await slow.close()
            }
        }
    }

    @Test("an sse subscriber of the tail gets goaway and the end of its response when the gateway drains")
    func sseDrain() async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("sse-tail-drain")
            let api = MQTT5API.definition(
                id: "sse", path: "/sse", port: broker.port,
                entrypoints: "[\(MQTT5API.entrypoint("sse", qos: "none"))]",
                shared: "{ \(MQTT5API.consumer(topic)) }")
            let port = broker.port
            try await withMQTT5Gateway(["sse.json": api]) { gateway in
                let stream = try await RawSSEClient.open(port: gateway.port, path: "/sse")
                _ = try await eventually(timeout: .seconds(30)) { SSEEntrypoint.ringStreamsActive >= 1 ? true : nil }
                _ = try await PahoOracle().publish(
                    port: port,
                    [PahoMessage(topic: topic, payload: Array("before".utf8), qos: .atLeastOnce, properties: .init())])
                #expect(try await stream.messages(1).map(\.data) == ["before"])
                let stopping = Task { await gateway.stop() }
                let goaway = try await stream.nextEvent(timeout: .seconds(10))
                #expect(goaway?.event == "goaway", "\(String(describing: goaway))")
                #expect(try await stream.nextEvent(timeout: .seconds(10)) == nil)
                await stopping.value
                // The count is the process's: other suites' streams may be open meanwhile, for a while.
                _ = try await eventually(timeout: .seconds(30)) { SSEEntrypoint.ringStreamsActive == 0 ? true : nil }
            }
        }
    }

    @Test("an idle sse subscriber of the tail gets heartbeats from the event loop")
    func sseHeartbeats() async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("sse-tail-heartbeat")
            let api = MQTT5API.definition(
                id: "sse", path: "/sse", port: broker.port,
                entrypoints:
                    "[\(MQTT5API.entrypoint("sse", qos: "none", configuration: #"{ "heartbeatIntervalInMs": 200 }"#))]",
                shared: "{ \(MQTT5API.consumer(topic)) }")
            try await withMQTT5Gateway(["sse.json": api]) { gateway in
                let stream = try await RawSSEClient.open(port: gateway.port, path: "/sse")
                _ = try await eventually(timeout: .seconds(30)) { SSEEntrypoint.ringStreamsActive >= 1 ? true : nil }
                var heartbeats = 0
                let started = ContinuousClock.now
                while heartbeats < 3, let block = try await stream.next(timeout: .seconds(5)) {
                    if block.event == nil, block.comments == [""] { heartbeats += 1 }
                }
                #expect(heartbeats == 3)
                #expect(ContinuousClock.now - started < .seconds(3))
                #expect(SSEEntrypoint.ringStreamsActive >= 1, "still on the event loop")
                await stream.close()
            }
        }
    }
}
