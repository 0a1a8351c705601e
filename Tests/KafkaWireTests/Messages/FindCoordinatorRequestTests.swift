import KafkaWire
import NIOCore
import Testing

@Suite struct FindCoordinatorRequestTests {
    @Test func version1KnownBytes() throws {
        let bytes = wire {
            [0x00, 0x04]  // Key (v0-3): int16 length 4
            "tx-1"
            [0x01]  // KeyType (v1+): 1 = transaction
        }
        try expectEncoding(KafkaFindCoordinatorRequest(key: "tx-1", keyType: 1), version: 1, is: bytes)
    }

    @Test func version4BatchesTheKeys() throws {
        let request = KafkaFindCoordinatorRequest(keyType: 0, coordinatorKeys: ["grp-1", "grp-2"])
        let bytes = wire {
            // Key exists in v0-3 only.
            [0x00]  // KeyType: 0 = group
            [0x03]  // CoordinatorKeys (v4+): compact array, 2 + 1
            [0x06]  //   compact string, 5 + 1
            "grp-1"
            [0x06]  //   compact string, 5 + 1
            "grp-2"
            [0x00]  // tagged fields: none
        }
        try expectEncoding(request, version: 4, is: bytes)

        // The single key is not written in a batched version.
        var withKey = request
        withKey.key = "ignored"
        var buffer = ByteBuffer()
        try withKey.write(into: &buffer, version: 4)
        #expect(Array(buffer.readableBytesView) == bytes)
    }
}
