import KafkaWire
import NIOCore
import Testing

@Suite struct FetchResponseTests {
    @Test func version4KnownBytes() throws {
        let response = KafkaFetchResponse(
            throttleTimeMs: 0,
            responses: [
                .init(
                    topic: "orders",
                    partitions: [
                        .init(
                            partitionIndex: 0, errorCode: 0, highWatermark: 100, lastStableOffset: 90,
                            abortedTransactions: [.init(producerId: 7, firstOffset: 80)],
                            records: ByteBuffer(bytes: [0x01, 0x02, 0x03])),
                        .init(
                            partitionIndex: 1, errorCode: KafkaErrorCode.offsetOutOfRange.rawValue, highWatermark: -1,
                            lastStableOffset: -1, abortedTransactions: nil, records: nil),
                    ])
            ]
        )
        let bytes = wire {
            [0x00, 0x00, 0x00, 0x00]  // ThrottleTimeMs: 0 (v1+)
            // ErrorCode and SessionId arrive in v7.
            [0x00, 0x00, 0x00, 0x01]  // Responses: int32 count 1
            [0x00, 0x06]  //   Topic: int16 length 6
            "orders"
            [0x00, 0x00, 0x00, 0x02]  //   Partitions: int32 count 2
            [0x00, 0x00, 0x00, 0x00]  //     PartitionIndex: 0
            [0x00, 0x00]  //     ErrorCode: 0
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64]  //     HighWatermark: 100
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x5A]  //     LastStableOffset: 90 (v4+)
            // LogStartOffset arrives in v5.
            [0x00, 0x00, 0x00, 0x01]  //     AbortedTransactions (v4+, nullable): int32 count 1
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07]  //       ProducerId: 7
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50]  //       FirstOffset: 80
            // PreferredReadReplica arrives in v11.
            [0x00, 0x00, 0x00, 0x03]  //     Records: int32 length 3
            [0x01, 0x02, 0x03]
            [0x00, 0x00, 0x00, 0x01]  //     PartitionIndex: 1
            [0x00, 0x01]  //     ErrorCode: 1 (OFFSET_OUT_OF_RANGE)
            [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]  //     HighWatermark: -1
            [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]  //     LastStableOffset: -1
            [0xFF, 0xFF, 0xFF, 0xFF]  //     AbortedTransactions: null
            [0xFF, 0xFF, 0xFF, 0xFF]  //     Records: null
        }
        try expectEncoding(response, version: 4, is: bytes)
    }

    static let version12 = KafkaFetchResponse(
        throttleTimeMs: 0, errorCode: 0, sessionId: 42,
        responses: [
            .init(
                topic: "orders",
                partitions: [
                    .init(
                        partitionIndex: 3, errorCode: 0, highWatermark: 100, lastStableOffset: 100, logStartOffset: 0,
                        divergingEpoch: .init(epoch: 4, endOffset: 90),
                        currentLeader: .init(leaderId: 2, leaderEpoch: 7),
                        abortedTransactions: nil, preferredReadReplica: -1,
                        records: ByteBuffer(bytes: [0x01, 0x02, 0x03])
                    )
                ])
        ]
    )

    @Test func version12KnownBytes() throws {
        let bytes = wire {
            [0x00, 0x00, 0x00, 0x00]  // ThrottleTimeMs: 0
            [0x00, 0x00]  // ErrorCode: 0 (v7+)
            [0x00, 0x00, 0x00, 0x2A]  // SessionId: 42 (v7+)
            [0x02]  // Responses: compact array, 1 + 1
            [0x07]  //   Topic (v0-12; TopicId replaces it in v13): compact string, 6 + 1
            "orders"
            [0x02]  //   Partitions: compact array, 1 + 1
            [0x00, 0x00, 0x00, 0x03]  //     PartitionIndex: 3
            [0x00, 0x00]  //     ErrorCode: 0
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64]  //     HighWatermark: 100
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64]  //     LastStableOffset: 100
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]  //     LogStartOffset: 0 (v5+)
            [0x00]  //     AbortedTransactions: compact nullable array, null
            [0xFF, 0xFF, 0xFF, 0xFF]  //     PreferredReadReplica: -1 (v11+)
            [0x04, 0x01, 0x02, 0x03]  //     Records: compact bytes, 3 + 1
            [0x02]  //     tagged fields: 2
            [0x00, 0x0D]  //     tag 0 (DivergingEpoch), 13 bytes
            [0x00, 0x00, 0x00, 0x04]  //       Epoch: 4
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x5A]  //       EndOffset: 90
            [0x00]  //       tagged fields: none
            [0x01, 0x09]  //     tag 1 (CurrentLeader), 9 bytes
            [0x00, 0x00, 0x00, 0x02]  //       LeaderId: 2
            [0x00, 0x00, 0x00, 0x07]  //       LeaderEpoch: 7
            [0x00]  //       tagged fields: none
            // tag 2 (SnapshotId) holds its default (-1, -1), so it is left out.
            [0x00]  //   tagged fields: none
            [0x00]  // tagged fields: none (NodeEndpoints, tag 0, arrives in v16)
        }
        try expectEncoding(Self.version12, version: 12, is: bytes)
    }

    @Test func version12PartitionTaggedFieldsKnownAndUnknown() throws {
        let bytes = wire {
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00]  // ThrottleTimeMs: 0, ErrorCode: 0
            [0x00, 0x00, 0x00, 0x00]  // SessionId: 0
            [0x02, 0x07]  // Responses: 1 + 1; Topic: 6 + 1
            "orders"
            [0x02]  //   Partitions: compact array, 1 + 1
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00]  //     PartitionIndex: 0, ErrorCode: 0
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A]  //     HighWatermark: 10
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A]  //     LastStableOffset: 10
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05]  //     LogStartOffset: 5
            [0x02]  //     AbortedTransactions: compact nullable array, 1 + 1
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE8]  //       ProducerId: 1000
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06]  //       FirstOffset: 6
            [0x00]  //       tagged fields: none
            [0x00, 0x00, 0x00, 0x01]  //     PreferredReadReplica: 1
            [0x00]  //     Records: null
            [0x02]  //     tagged fields: 2
            [0x02, 0x0D]  //     tag 2 (SnapshotId), 13 bytes
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04]  //       EndOffset: 4
            [0x00, 0x00, 0x00, 0x03]  //       Epoch: 3
            [0x00]  //       tagged fields: none
            [0x07, 0x01, 0x42]  //     tag 7 (unknown), 1 byte
            [0x00]  //   tagged fields: none
            [0x00]  // tagged fields: none
        }
        let expected = KafkaFetchResponse(
            responses: [
                .init(
                    topic: "orders",
                    partitions: [
                        .init(
                            partitionIndex: 0, errorCode: 0, highWatermark: 10, lastStableOffset: 10, logStartOffset: 5,
                            snapshotId: .init(endOffset: 4, epoch: 3),
                            abortedTransactions: [.init(producerId: 1000, firstOffset: 6)], preferredReadReplica: 1,
                            records: nil)
                    ])
            ]
        )
        var buffer = ByteBuffer(bytes: bytes)
        #expect(try KafkaFetchResponse(from: &buffer, version: 12) == expected)
        #expect(buffer.readableBytes == 0)
    }
}
