import KafkaWire
import NIOCore
import Testing

@Suite struct ConsumerProtocolSubscriptionTests {
    // The consumer protocol payloads are never flexible: classic strings, arrays and bytes in every version.

    @Test func version0KnownBytes() throws {
        let subscription = KafkaConsumerProtocolSubscription(topics: ["orders", "payments"], userData: nil)
        let bytes = wire {
            [0x00, 0x00, 0x00, 0x02]  // Topics: int32 count 2
            [0x00, 0x06]  //   int16 length 6
            "orders"
            [0x00, 0x08]  //   int16 length 8
            "payments"
            [0xFF, 0xFF, 0xFF, 0xFF]  // UserData: nullable bytes, null
        }
        try expectEncoding(subscription, version: 0, is: bytes)
    }

    @Test func version1KnownBytesWithOwnedPartitions() throws {
        let subscription = KafkaConsumerProtocolSubscription(
            topics: ["orders"], userData: ByteBuffer(bytes: [0xCA, 0xFE]),
            ownedPartitions: [.init(topic: "orders", partitions: [0, 1])]
        )
        let bytes = wire {
            [0x00, 0x00, 0x00, 0x01]  // Topics: int32 count 1
            [0x00, 0x06]  //   int16 length 6
            "orders"
            [0x00, 0x00, 0x00, 0x02]  // UserData: int32 length 2
            [0xCA, 0xFE]
            [0x00, 0x00, 0x00, 0x01]  // OwnedPartitions (v1+): int32 count 1
            [0x00, 0x06]  //   Topic: int16 length 6
            "orders"
            [0x00, 0x00, 0x00, 0x02]  //   Partitions: int32 count 2
            [0x00, 0x00, 0x00, 0x00]  //     0
            [0x00, 0x00, 0x00, 0x01]  //     1
            // GenerationId arrives in v2, RackId in v3.
        }
        try expectEncoding(subscription, version: 1, is: bytes)
    }
}
