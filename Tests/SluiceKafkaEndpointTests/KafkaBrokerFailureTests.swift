import Foundation
import GatewayTestSupport
import HummingbirdWSClient
import KafkaTestSupport
import Logging
import NIOCore
import NIOWebSocket
import Synchronization
import Testing

/// The broker stops while clients post and stream, then comes back: posts fail fast, streams end with an error
/// (SSE `event: error`, WebSocket close 1011), and once the broker is back the gateway reconnects by itself and a
/// client resumes exactly from its last id.
@Suite("kafka endpoint: broker failure and return", .serialized)
struct KafkaBrokerFailureTests {
    let oracle = LibrdkafkaOracle()
    static let logger = Logger(label: "kafka-failure-test")

    @Test(
        "broker stopped: 503 at once, SSE event: error, WebSocket close 1011; broker back: posts succeed and SSE resumes from Last-Event-ID"
    )
    func brokerStopsAndReturns() async throws {
        // s3 storage: the broker comes back with its topics, records and offsets.
        try await withTansuBroker(storage: .s3) { broker in
            let topic = uniqueTopic("failure")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            let api = KafkaAPI.definition(
                id: "events", path: "/events", bootstrap: broker.bootstrap,
                entrypoints: """
                    [\(KafkaAPI.entrypoint("http-post", qos: "auto")),
                     \(KafkaAPI.entrypoint("http-get", qos: "auto", configuration: #"{ "messagesLimitDurationMs": 500 }"#)),
                     \(KafkaAPI.entrypoint("sse", qos: "at-least-once", configuration: #"{ "heartbeatIntervalInMs": 1000 }"#)),
                     \(KafkaAPI.entrypoint("websocket", qos: "auto", configuration: #"{ "publisher": { "enabled": false } }"#))]
                    """,
                shared: "{ \(KafkaAPI.consumer(topic)), \(KafkaAPI.producer(topic)) }")
            try await withKafkaGateway(["events.json": api]) { gateway in
                let url = "\(gateway.baseURL)/events"
                for index in 0..<2 {
                    #expect(try await httpCall(.POST, url, body: "m\(index)").status == 202)
                }
                let stream = try await RawSSEClient.open(
                    port: gateway.port, path: "/events", headers: [("X-Gravitee-Client-Identifier", "sse-client")])
                let before = try await stream.messages(2)
                #expect(before.compactMap(\.data) == ["m0", "m1"])
                let lastID = try #require(before.last?.id)

                // A WebSocket subscriber, open across the failure; its close frame is kept.
                let webSocketReady = Mutex(false)
                let webSocket = Task {
                    try await WebSocketClient.connect(url: "ws://127.0.0.1:\(gateway.port)/events", logger: Self.logger)
                    {
                        inbound, _, _ in
                        var count = 0
                        for try await _ in inbound.messages(maxSize: 1 << 20) {
                            count += 1
                            if count == 2 { webSocketReady.withLock { $0 = true } }
                        }
                    }
                }
                _ = try await eventually(timeout: .seconds(30)) { webSocketReady.withLock { $0 } ? true : nil }

                await broker.halt()

                // A publish fails fast with a clear status, never 202.
                let started = ContinuousClock.now
                let refused = try await httpCall(.POST, url, body: "lost")
                #expect(refused.status == 503, "\(refused.body)")
                #expect(refused.json?["key"]?.stringValue == "KAFKA_UNAVAILABLE")
                #expect(ContinuousClock.now - started < .seconds(3), "took \(ContinuousClock.now - started)")
                // A poll too.
                let polled = try await httpCall(.GET, url, headers: [("Accept", "application/json")])
                #expect(polled.status == 503, "\(polled.body)")

                // The SSE stream ends with an error event; the WebSocket with 1011.
                let error = try await stream.nextEvent(timeout: .seconds(20))
                #expect(error?.event == "error", "\(String(describing: error))")
                #expect(error?.data?.contains("Kafka") == true)
                let close = try await within(.seconds(20), "the WebSocket close") { try await webSocket.value }
                #expect(close?.closeCode == .unexpectedServerError)
                #expect(close?.reason?.hasPrefix("KAFKA_UNAVAILABLE") == true, "\(String(describing: close?.reason))")
                await stream.close()

                try await broker.relaunch()

                // The gateway reconnects by itself: a publish goes through again.
                let accepted = try await eventually(timeout: .seconds(30), interval: .milliseconds(500)) {
                    let response = try await httpCall(.POST, url, body: "m2")
                    return response.status == 202 ? response : nil
                }
                #expect(accepted.status == 202)
                #expect(try await httpCall(.POST, url, body: "m3").status == 202)
                // A client resuming from its last id gets exactly what came after it.
                let resumed = try await RawSSEClient.open(
                    port: gateway.port, path: "/events",
                    headers: [("X-Gravitee-Client-Identifier", "sse-client"), ("Last-Event-ID", lastID)])
                let after = try await resumed.messages(2)
                #expect(after.compactMap(\.data) == ["m2", "m3"])
                await resumed.close()
                let stored = try await oracle.consume(bootstrap: broker.bootstrap, topic: topic, count: 4)
                #expect(
                    stored.map(\.value) == ["m0", "m1", "m2", "m3"].map { Array($0.utf8) },
                    "the refused publish was not stored")
            }
        }
    }
}
