import KafkaWire
import NIOCore
import Testing

@Suite struct MetadataRequestTests {
    // MetadataRequest.json: "In version 0, an empty array indicates 'request metadata for all topics.' In version 1
    // and higher, an empty array indicates 'request metadata for no topics,' and a null array is used to indicate
    // 'request metadata for all topics.'"

    @Test func version0AllTopicsIsAnEmptyArray() throws {
        try expectEncoding(
            KafkaMetadataRequest(topics: []), version: 0,
            is: [0x00, 0x00, 0x00, 0x00])  // Topics: int32 count 0

        // A null array does not exist in v0, either way.
        var buffer = ByteBuffer()
        let writeError = expectWireError { () throws(KafkaWireError) in
            try KafkaMetadataRequest(topics: nil).write(into: &buffer, version: 0)
        }
        #expect(writeError?.code == .unexpectedNull)
        var null = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF])
        let readError = expectWireError { () throws(KafkaWireError) in
            _ = try KafkaMetadataRequest(from: &null, version: 0)
        }
        #expect(readError?.code == .unexpectedNull)
    }

    @Test func version1AllTopicsIsANullArray() throws {
        try expectEncoding(
            KafkaMetadataRequest(topics: nil), version: 1,
            is: [0xFF, 0xFF, 0xFF, 0xFF])  // Topics: int32 count -1 (null): all topics
    }

    @Test func version1NamedTopics() throws {
        let bytes = wire {
            [0x00, 0x00, 0x00, 0x01]  // Topics: int32 count 1
            [0x00, 0x06]  //   Name: int16 length 6
            "orders"
            // AllowAutoTopicCreation arrives in v4.
        }
        try expectEncoding(KafkaMetadataRequest(topics: [.init(name: "orders")]), version: 1, is: bytes)
        try expectEncoding(KafkaMetadataRequest(topics: []), version: 1, is: [0x00, 0x00, 0x00, 0x00])  // no topics
    }

    static let version12 = KafkaMetadataRequest(
        topics: [
            .init(
                topicId: KafkaUUID(
                    mostSignificantBits: 0x0123_4567_89AB_CDEF, leastSignificantBits: 0xFEDC_BA98_7654_3210),
                name: "orders"),
            .init(
                topicId: KafkaUUID(
                    mostSignificantBits: 0x1111_2222_3333_4444, leastSignificantBits: 0x5555_6666_7777_8888),
                name: nil),
        ],
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: true
    )

    @Test func version12KnownBytes() throws {
        let bytes = wire {
            [0x03]  // Topics: compact array, 2 + 1
            [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]  //   TopicId (v10+): most significant half
            [0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10]  //   least significant half
            [0x07]  //   Name: compact nullable string, 6 + 1
            "orders"
            [0x00]  //   tagged fields: none
            [0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x44, 0x44]  //   TopicId
            [0x55, 0x55, 0x66, 0x66, 0x77, 0x77, 0x88, 0x88]
            [0x00]  //   Name: null (nullable from v10; the topic is named by its id)
            [0x00]  //   tagged fields: none
            [0x00]  // AllowAutoTopicCreation: false (v4+)
            // IncludeClusterAuthorizedOperations exists in v8-10 only.
            [0x01]  // IncludeTopicAuthorizedOperations: true (v8+)
            [0x00]  // tagged fields: none
        }
        try expectEncoding(Self.version12, version: 12, is: bytes)

        // A field that no longer exists in v12 is not written.
        var withClusterOperations = Self.version12
        withClusterOperations.includeClusterAuthorizedOperations = true
        var buffer = ByteBuffer()
        try withClusterOperations.write(into: &buffer, version: 12)
        #expect(Array(buffer.readableBytesView) == bytes)
    }
}
