import Foundation
import GatewayTestSupport
import KafkaClient
import KafkaTestSupport
import Logging
import NIOCore
import SluiceCore
import SluiceEndpoints
import Testing

/// Gravitee's attributes steer the kafka endpoint per message and per request. Nothing in the gateway sets them yet
/// (the assign-attributes policy is not supported), so this drives the endpoint directly.
@Suite("kafka endpoint: Gravitee attributes", .serialized)
struct KafkaAttributeTests {
    let oracle = LibrdkafkaOracle()

    @Test("recordKey and producer.topics on a message; consumer.topics and groupId on a subscription")
    func attributes() async throws {
        try await withTansuBroker { broker in
            let configured = uniqueTopic("configured")
            let other = uniqueTopic("other")
            for topic in [configured, other] {
                try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 2)
            }
            var configuration = KafkaEndpointConfiguration(
                bootstrapServers: [try #require(.init(broker.bootstrap))])
            configuration.producer.enabled = true
            configuration.producer.topics = [configured]
            configuration.consumer.enabled = true
            configuration.consumer.topics = [configured]
            configuration.consumer.autoOffsetReset = .earliest
            let endpoint = KafkaEndpoint(configuration: configuration, logger: Logger(label: "attributes"))

            let published = try await endpoint.publish(
                Message(
                    content: ByteBuffer(string: "keyed"), headers: [("h", "v")],
                    attributes: [
                        KafkaEndpoint.Attribute.recordKey: "key-1", KafkaEndpoint.Attribute.producerTopics: other,
                    ]))
            #expect(published.metadata["topic"] == other)
            let id = try KafkaCursor(parsing: try #require(published.id))
            #expect(id.lastOffsets.keys.map(\.topic) == [other])
            let records = try await oracle.consume(bootstrap: broker.bootstrap, topic: other, count: 1)
            #expect(records.first?.key == Array("key-1".utf8))
            #expect(records.first?.headers == [OracleHeader("h", "v")])
            let keyPartition = try await oracle.partitionsForKeys(
                bootstrap: broker.bootstrap, topic: other, keys: ["key-1"])
            #expect(records.first?.partition == keyPartition.first, "murmur2 partitioning of the key, as librdkafka")

            let source = try await endpoint.subscribe(
                SubscriptionRequest(
                    clientIdentifier: "ignored", qos: .auto, mode: .poll,
                    attributes: [
                        KafkaEndpoint.Attribute.consumerTopics: other, KafkaEndpoint.Attribute.groupID: "custom-group",
                    ]))
            let messages = try await source.next(maxCount: 10)
            source.close()
            #expect(messages.map { String(buffer: $0.content) }.contains("keyed"))
            #expect(messages.first?.metadata["key"] == "key-1")
            let committed = try await oracle.committed(bootstrap: broker.bootstrap, group: "custom-group", topic: other)
            #expect(
                committed.values.compactMap { $0 }.reduce(0, +) >= 1, "the poll committed for the attribute's group")
            let ignored = try await oracle.committed(bootstrap: broker.bootstrap, group: "ignored", topic: other)
            #expect(ignored.values.allSatisfy { $0 == nil })
            await endpoint.stop()
        }
    }
}
