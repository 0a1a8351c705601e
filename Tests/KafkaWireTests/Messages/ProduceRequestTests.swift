import KafkaWire
import NIOCore
import Testing

@Suite struct ProduceRequestTests {
    /// Stands in for a record batch: the message carries the records as opaque bytes.
    static let records = ByteBuffer(bytes: [0xDE, 0xAD, 0xBE, 0xEF, 0x01])

    @Test func version3KnownBytes() throws {
        let request = KafkaProduceRequest(
            transactionalId: nil, acks: -1, timeoutMs: 30000,
            topicData: [
                .init(
                    name: "orders",
                    partitionData: [.init(index: 0, records: Self.records), .init(index: 1, records: nil)])
            ]
        )
        let bytes = wire {
            [0xFF, 0xFF]  // TransactionalId (v3+): nullable string, null
            [0xFF, 0xFF]  // Acks: -1 (all in-sync replicas)
            [0x00, 0x00, 0x75, 0x30]  // TimeoutMs: 30000
            [0x00, 0x00, 0x00, 0x01]  // TopicData: int32 count 1
            [0x00, 0x06]  //   Name: int16 length 6
            "orders"
            [0x00, 0x00, 0x00, 0x02]  //   PartitionData: int32 count 2
            [0x00, 0x00, 0x00, 0x00]  //     Index: 0
            [0x00, 0x00, 0x00, 0x05]  //     Records: int32 length 5
            [0xDE, 0xAD, 0xBE, 0xEF, 0x01]
            [0x00, 0x00, 0x00, 0x01]  //     Index: 1
            [0xFF, 0xFF, 0xFF, 0xFF]  //     Records: null
        }
        try expectEncoding(request, version: 3, is: bytes)
    }

    @Test func version9KnownBytes() throws {
        let request = KafkaProduceRequest(
            transactionalId: "tx-1", acks: 1, timeoutMs: 1000,
            topicData: [.init(name: "orders", partitionData: [.init(index: 2, records: Self.records)])]
        )
        let bytes = wire {
            [0x05]  // TransactionalId: compact nullable string, 4 + 1
            "tx-1"
            [0x00, 0x01]  // Acks: 1
            [0x00, 0x00, 0x03, 0xE8]  // TimeoutMs: 1000
            [0x02]  // TopicData: compact array, 1 + 1
            [0x07]  //   Name: compact string, 6 + 1
            "orders"
            [0x02]  //   PartitionData: compact array, 1 + 1
            [0x00, 0x00, 0x00, 0x02]  //     Index: 2
            [0x06]  //     Records: compact bytes, 5 + 1
            [0xDE, 0xAD, 0xBE, 0xEF, 0x01]
            [0x00]  //     tagged fields: none
            [0x00]  //   tagged fields: none
            [0x00]  // tagged fields: none
        }
        try expectEncoding(request, version: 9, is: bytes)
    }

    @Test func version2HasNoTransactionalID() throws {
        let request = KafkaProduceRequest(transactionalId: nil, acks: 0, timeoutMs: 5, topicData: [])
        let bytes = wire {
            [0x00, 0x00]  // Acks: 0
            [0x00, 0x00, 0x00, 0x05]  // TimeoutMs: 5
            [0x00, 0x00, 0x00, 0x00]  // TopicData: int32 count 0
        }
        try expectEncoding(request, version: 2, is: bytes)
    }
}
