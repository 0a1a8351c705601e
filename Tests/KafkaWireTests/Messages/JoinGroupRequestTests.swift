import KafkaWire
import NIOCore
import Testing

@Suite struct JoinGroupRequestTests {
    @Test func version5KnownBytes() throws {
        let request = KafkaJoinGroupRequest(
            groupId: "grp-1", sessionTimeoutMs: 10000, rebalanceTimeoutMs: 30000, memberId: "", groupInstanceId: nil,
            protocolType: "consumer", protocols: [.init(name: "range", metadata: ByteBuffer(bytes: [0x00, 0x03]))]
        )
        let bytes = wire {
            [0x00, 0x05]  // GroupId: int16 length 5
            "grp-1"
            [0x00, 0x00, 0x27, 0x10]  // SessionTimeoutMs: 10000
            [0x00, 0x00, 0x75, 0x30]  // RebalanceTimeoutMs: 30000 (v1+)
            [0x00, 0x00]  // MemberId: "" (first join)
            [0xFF, 0xFF]  // GroupInstanceId (v5+): nullable string, null
            [0x00, 0x08]  // ProtocolType: int16 length 8
            "consumer"
            [0x00, 0x00, 0x00, 0x01]  // Protocols: int32 count 1
            [0x00, 0x05]  //   Name: int16 length 5
            "range"
            [0x00, 0x00, 0x00, 0x02]  //   Metadata: int32 length 2
            [0x00, 0x03]
            // Reason arrives in v8.
        }
        try expectEncoding(request, version: 5, is: bytes)
    }

    @Test func version6KnownBytes() throws {
        let request = KafkaJoinGroupRequest(
            groupId: "grp-1", sessionTimeoutMs: 10000, rebalanceTimeoutMs: 30000, memberId: "",
            groupInstanceId: "instance-1", protocolType: "consumer",
            protocols: [
                .init(name: "range", metadata: ByteBuffer(bytes: [0x00, 0x03])),
                .init(name: "roundrobin", metadata: ByteBuffer()),
            ]
        )
        let bytes = wire {
            [0x06]  // GroupId: compact string, 5 + 1
            "grp-1"
            [0x00, 0x00, 0x27, 0x10]  // SessionTimeoutMs: 10000
            [0x00, 0x00, 0x75, 0x30]  // RebalanceTimeoutMs: 30000
            [0x01]  // MemberId: compact string, 0 + 1
            [0x0B]  // GroupInstanceId: compact nullable string, 10 + 1
            "instance-1"
            [0x09]  // ProtocolType: compact string, 8 + 1
            "consumer"
            [0x03]  // Protocols: compact array, 2 + 1
            [0x06]  //   Name: 5 + 1
            "range"
            [0x03, 0x00, 0x03]  //   Metadata: compact bytes, 2 + 1
            [0x00]  //   tagged fields: none
            [0x0B]  //   Name: 10 + 1
            "roundrobin"
            [0x01]  //   Metadata: compact bytes, empty
            [0x00]  //   tagged fields: none
            [0x00]  // tagged fields: none
        }
        try expectEncoding(request, version: 6, is: bytes)
    }
}
