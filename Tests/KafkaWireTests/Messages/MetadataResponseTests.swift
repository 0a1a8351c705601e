import KafkaWire
import NIOCore
import Testing

@Suite struct MetadataResponseTests {
    static let topicID = KafkaUUID(
        mostSignificantBits: 0x0123_4567_89AB_CDEF, leastSignificantBits: 0xFEDC_BA98_7654_3210)

    @Test func version12KnownBytes() throws {
        let response = KafkaMetadataResponse(
            throttleTimeMs: 10,
            brokers: [
                .init(nodeId: 1, host: "kafka-1", port: 9092, rack: nil),
                .init(nodeId: 2, host: "kafka-2", port: 9093, rack: "rack-b"),
            ],
            clusterId: "cluster-A",
            controllerId: 1,
            topics: [
                .init(
                    errorCode: 0, name: "orders", topicId: Self.topicID, isInternal: false,
                    partitions: [
                        .init(
                            errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 5, replicaNodes: [1, 2],
                            isrNodes: [1], offlineReplicas: [])
                    ],
                    topicAuthorizedOperations: Int32.min)
            ]
        )
        let bytes = wire {
            [0x00, 0x00, 0x00, 0x0A]  // ThrottleTimeMs: 10
            [0x03]  // Brokers: compact array, 2 + 1
            [0x00, 0x00, 0x00, 0x01]  //   NodeId: 1
            [0x08]  //   Host: compact string, 7 + 1
            "kafka-1"
            [0x00, 0x00, 0x23, 0x84]  //   Port: 9092
            [0x00]  //   Rack: null
            [0x00]  //   tagged fields: none
            [0x00, 0x00, 0x00, 0x02]  //   NodeId: 2
            [0x08]  //   Host: compact string, 7 + 1
            "kafka-2"
            [0x00, 0x00, 0x23, 0x85]  //   Port: 9093
            [0x07]  //   Rack: compact nullable string, 6 + 1
            "rack-b"
            [0x00]  //   tagged fields: none
            [0x0A]  // ClusterId: compact nullable string, 9 + 1
            "cluster-A"
            [0x00, 0x00, 0x00, 0x01]  // ControllerId: 1
            [0x02]  // Topics: compact array, 1 + 1
            [0x00, 0x00]  //   ErrorCode: 0
            [0x07]  //   Name: compact nullable string, 6 + 1
            "orders"
            [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]  //   TopicId (v10+)
            [0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10]
            [0x00]  //   IsInternal: false
            [0x02]  //   Partitions: compact array, 1 + 1
            [0x00, 0x00]  //     ErrorCode: 0
            [0x00, 0x00, 0x00, 0x00]  //     PartitionIndex: 0
            [0x00, 0x00, 0x00, 0x01]  //     LeaderId: 1
            [0x00, 0x00, 0x00, 0x05]  //     LeaderEpoch: 5
            [0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02]  //     ReplicaNodes: compact array [1, 2]
            [0x02, 0x00, 0x00, 0x00, 0x01]  //     IsrNodes: compact array [1]
            [0x01]  //     OfflineReplicas: compact array, empty
            [0x00]  //     tagged fields: none
            [0x80, 0x00, 0x00, 0x00]  //   TopicAuthorizedOperations: -2147483648 (not requested)
            [0x00]  //   tagged fields: none
            // ClusterAuthorizedOperations exists in v8-10 only.
            [0x00]  // tagged fields: none
        }
        try expectEncoding(response, version: 12, is: bytes)
    }

    @Test func version12TopicWithoutAName() throws {
        // From v12 a topic may be answered by id only (Name is nullable from v12).
        let response = KafkaMetadataResponse(
            topics: [.init(errorCode: 100, name: nil, topicId: Self.topicID, topicAuthorizedOperations: 0)])
        let bytes = wire {
            [0x00, 0x00, 0x00, 0x00]  // ThrottleTimeMs: 0
            [0x01]  // Brokers: compact array, empty
            [0x00]  // ClusterId: null
            [0xFF, 0xFF, 0xFF, 0xFF]  // ControllerId: -1
            [0x02]  // Topics: compact array, 1 + 1
            [0x00, 0x64]  //   ErrorCode: 100 (UNKNOWN_TOPIC_ID)
            [0x00]  //   Name: null
            [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]  //   TopicId
            [0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10]
            [0x00]  //   IsInternal: false
            [0x01]  //   Partitions: compact array, empty
            [0x00, 0x00, 0x00, 0x00]  //   TopicAuthorizedOperations: 0
            [0x00]  //   tagged fields: none
            [0x00]  // tagged fields: none
        }
        try expectEncoding(response, version: 12, is: bytes)

        // Before v12 the name is required.
        var buffer = ByteBuffer()
        let error = expectWireError { () throws(KafkaWireError) in try response.write(into: &buffer, version: 11) }
        #expect(error?.code == .unexpectedNull)
    }
}
