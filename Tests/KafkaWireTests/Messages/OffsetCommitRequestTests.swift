import KafkaWire
import NIOCore
import Testing

@Suite struct OffsetCommitRequestTests {
    @Test func version8KnownBytes() throws {
        let request = KafkaOffsetCommitRequest(
            groupId: "grp-1", generationIdOrMemberEpoch: 3, memberId: "member-1", groupInstanceId: nil,
            topics: [
                .init(
                    name: "orders",
                    partitions: [
                        .init(partitionIndex: 0, committedOffset: 100, committedLeaderEpoch: 5, committedMetadata: ""),
                        .init(
                            partitionIndex: 1, committedOffset: 200, committedLeaderEpoch: -1, committedMetadata: nil),
                    ])
            ]
        )
        let bytes = wire {
            [0x06]  // GroupId: compact string, 5 + 1
            "grp-1"
            [0x00, 0x00, 0x00, 0x03]  // GenerationIdOrMemberEpoch: 3 (v1+)
            [0x09]  // MemberId: compact string, 8 + 1 (v1+)
            "member-1"
            [0x00]  // GroupInstanceId (v7+): compact nullable string, null
            // RetentionTimeMs exists in v2-4 only.
            [0x02]  // Topics: compact array, 1 + 1
            [0x07]  //   Name: compact string, 6 + 1
            "orders"
            [0x03]  //   Partitions: compact array, 2 + 1
            [0x00, 0x00, 0x00, 0x00]  //     PartitionIndex: 0
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64]  //     CommittedOffset: 100
            [0x00, 0x00, 0x00, 0x05]  //     CommittedLeaderEpoch: 5 (v6+)
            // CommitTimestamp exists in v1 only.
            [0x01]  //     CommittedMetadata: compact nullable string, "" (0 + 1)
            [0x00]  //     tagged fields: none
            [0x00, 0x00, 0x00, 0x01]  //     PartitionIndex: 1
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC8]  //     CommittedOffset: 200
            [0xFF, 0xFF, 0xFF, 0xFF]  //     CommittedLeaderEpoch: -1
            [0x00]  //     CommittedMetadata: null
            [0x00]  //     tagged fields: none
            [0x00]  //   tagged fields: none
            [0x00]  // tagged fields: none
        }
        try expectEncoding(request, version: 8, is: bytes)
    }
}
