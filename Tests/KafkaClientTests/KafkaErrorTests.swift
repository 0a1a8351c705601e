import KafkaClient
import KafkaWire
import Testing

@Suite struct KafkaErrorTests {
    @Test func brokerErrorsTakeTheirNameAndRetriabilityFromTheCode() {
        let error = KafkaError.broker(.unknownTopicOrPartition, "topic orders")
        #expect(error.name == "UNKNOWN_TOPIC_OR_PARTITION")
        #expect(error.isRetriable)
        #expect(!KafkaError(.invalidConfiguration, "linger").isRetriable)
    }
}
