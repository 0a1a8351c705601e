import Foundation
import GatewayTestSupport
import Logging
import MQTT5TestSupport
import NIOCore
import SluiceCore
import SluiceEndpoints
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
}
