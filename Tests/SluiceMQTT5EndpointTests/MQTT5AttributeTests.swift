import Foundation
import GatewayTestSupport
import Logging
import MQTT5TestSupport
import NIOCore
import SluiceCore
import SluiceEndpoints
import Testing

/// Gravitee's `gravitee.attribute.mqtt5.topic` steers the endpoint per message and per subscription. Nothing in the
/// gateway sets attributes yet (the assign-attributes policy is not supported), so this drives the endpoint
/// directly.
@Suite(
    "mqtt5 endpoint: Gravitee attributes", .serialized,
    .enabled(if: MQTT5EndpointTestEnvironment.enabled, MQTT5EndpointTestEnvironment.skipReason))
struct MQTT5AttributeTests {
    @Test("the topic attribute on a message and on a subscription replaces the configured topic")
    func topicAttribute() async throws {
        try await withMosquitto { broker in
            let configured = uniqueTopic("configured")
            let other = uniqueTopic("other")
            var configuration = MQTT5EndpointConfiguration(serverHost: "127.0.0.1", serverPort: broker.port)
            configuration.producer.enabled = true
            configuration.producer.topic = configured
            configuration.consumer.enabled = true
            configuration.consumer.topic = configured
            let endpoint = MQTT5Endpoint(configuration: configuration, logger: Logger(label: "attributes"))

            let source = try await endpoint.subscribe(
                SubscriptionRequest(
                    clientIdentifier: "attribute-reader", qos: .auto, mode: .stream,
                    attributes: [MQTT5Endpoint.Attribute.topic: other]))
            let paho = try PahoOracle()
            let subscriber = try await paho.subscribe(port: broker.port, topic: other, qos: .atLeastOnce, count: 1)
            let published = try await endpoint.publish(
                Message(
                    content: ByteBuffer(string: "redirected"), headers: [("h", "v")],
                    attributes: [MQTT5Endpoint.Attribute.topic: other]))
            #expect(published.metadata["topic"] == other)
            let seen = try await subscriber.messages()
            #expect(seen.first?.topic == other)
            #expect(seen.first?.properties.userProperties == [["h", "v"]])

            let messages = try await within(.seconds(20), "the redirected message") {
                try await source.next(maxCount: 10)
            }
            #expect(messages.map { String(buffer: $0.content) } == ["redirected"])
            #expect(messages.first?.metadata["topic"] == other)
            #expect(messages.first?.headers["h"] == ["v"])
            source.close()

            // Without the attribute, the configured topic.
            let plain = try await endpoint.publish(Message(content: ByteBuffer(string: "plain")))
            #expect(plain.metadata["topic"] == configured)
            // A topic attribute that is no topic is the client's mistake.
            await #expect(throws: GatewayError.self) {
                try await endpoint.publish(
                    Message(content: ByteBuffer(string: "x"), attributes: [MQTT5Endpoint.Attribute.topic: "a/#"]))
            }
            await endpoint.stop()
        }
    }
}
