import KafkaWire
import NIOCore
import Testing

/// Hand-made malformed bodies: each is refused with the error that names what is wrong, before anything is
/// allocated for a length or count the bytes cannot hold.
@Suite struct MalformedMessageTests {
    private func read<Message: KafkaVersionedData>(
        _: Message.Type,
        version: Int16,
        _ bytes: [UInt8],
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> KafkaWireError.Code? {
        var buffer = ByteBuffer(bytes: bytes)
        return expectWireError(sourceLocation: sourceLocation) { () throws(KafkaWireError) in
            _ = try Message(from: &buffer, version: version)
        }?.code
    }

    // MARK: Lengths and counts larger than the bytes

    @Test func hugeArrayCountIsRefusedBeforeAllocating() {
        // A count of 2^31 - 1 elements in 2 bytes: refused by the count check, not by running out of memory.
        #expect(read(KafkaMetadataResponse.self, version: 0, [0x7F, 0xFF, 0xFF, 0xFF, 0x00, 0x00]) == .invalidLength)
        // Compact: unsigned varint 0xFFFFFFFF, that is 2^32 - 2 elements.
        let compact: [UInt8] = [0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00]
        #expect(read(KafkaMetadataResponse.self, version: 12, compact) == .invalidLength)
        // Deep inside a message: FetchResponse v4, a partition's aborted transactions.
        let nested = wire {
            [0x00, 0x00, 0x00, 0x00]  // ThrottleTimeMs
            [0x00, 0x00, 0x00, 0x01, 0x00, 0x01]  // Responses: 1; Topic: length 1
            "t"
            [0x00, 0x00, 0x00, 0x01]  //   Partitions: 1
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00]  //     PartitionIndex, ErrorCode
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]  //     HighWatermark
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]  //     LastStableOffset
            [0x7F, 0xFF, 0xFF, 0xFF]  //     AbortedTransactions: 2^31 - 1
        }
        #expect(read(KafkaFetchResponse.self, version: 4, nested) == .invalidLength)
        // An array of int32: ConsumerProtocolAssignment's partitions.
        let partitions = wire {
            [0x00, 0x00, 0x00, 0x01, 0x00, 0x01]  // AssignedPartitions: 1; Topic: length 1
            "t"
            [0x40, 0x00, 0x00, 0x00]  //   Partitions: 2^30
            [0x00, 0x00, 0x00, 0x01]
        }
        #expect(read(KafkaConsumerProtocolAssignment.self, version: 0, partitions) == .invalidLength)
    }

    @Test func hugeStringAndBytesLengthsAreRefused() {
        #expect(read(KafkaSaslHandshakeRequest.self, version: 0, [0x7F, 0xFF, 0x61, 0x62, 0x63]) == .truncated)
        // Compact string of 2^32 - 2 bytes (HeartbeatRequest v4, GroupId).
        #expect(read(KafkaHeartbeatRequest.self, version: 4, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x61]) == .truncated)
        #expect(read(KafkaSaslAuthenticateRequest.self, version: 0, [0x7F, 0xFF, 0xFF, 0xFF, 0x01]) == .truncated)
        #expect(
            read(KafkaSaslAuthenticateRequest.self, version: 2, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01]) == .truncated)
    }

    // MARK: Negative lengths and nulls

    @Test func negativeLengthsAreRefused() {
        // String length -2.
        #expect(read(KafkaSaslHandshakeRequest.self, version: 0, [0xFF, 0xFE, 0x61, 0x62]) == .invalidLength)
        // Array count -2 (SaslHandshakeResponse: ErrorCode, then Mechanisms).
        let array: [UInt8] = [0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFE, 0x00, 0x00]
        #expect(read(KafkaSaslHandshakeResponse.self, version: 0, array) == .invalidLength)
        // Bytes length -5.
        #expect(read(KafkaSaslAuthenticateRequest.self, version: 0, [0xFF, 0xFF, 0xFF, 0xFB, 0x00]) == .invalidLength)
        // Int32.min as a count.
        #expect(
            read(KafkaSaslHandshakeResponse.self, version: 0, [0x00, 0x00, 0x80, 0x00, 0x00, 0x00]) == .invalidLength)
    }

    @Test func nullWhereTheVersionDoesNotAllowIt() {
        #expect(read(KafkaSaslHandshakeRequest.self, version: 0, [0xFF, 0xFF]) == .unexpectedNull)
        #expect(
            read(KafkaSaslHandshakeResponse.self, version: 0, [0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF]) == .unexpectedNull)
        #expect(read(KafkaSaslAuthenticateRequest.self, version: 0, [0xFF, 0xFF, 0xFF, 0xFF]) == .unexpectedNull)
        #expect(read(KafkaHeartbeatRequest.self, version: 4, [0x00]) == .unexpectedNull)  // compact null GroupId
    }

    @Test func nullIsRefusedOnWriteWhereTheVersionDoesNotAllowIt() throws {
        // JoinGroupResponse.ProtocolName is nullable from v7 only.
        let response = KafkaJoinGroupResponse(protocolName: nil, leader: "m-1", memberId: "m-1")
        var buffer = ByteBuffer()
        let error = expectWireError { () throws(KafkaWireError) in try response.write(into: &buffer, version: 6) }
        #expect(error?.code == .unexpectedNull)
        var flexible = ByteBuffer()
        try response.write(into: &flexible, version: 7)
        #expect(try KafkaJoinGroupResponse(from: &flexible, version: 7) == response)
    }

    @Test func aClassicStringLongerThanInt16IsRefusedOnWrite() throws {
        let long = String(repeating: "a", count: 40_000)
        var buffer = ByteBuffer()
        let error = expectWireError { () throws(KafkaWireError) in
            try KafkaSaslHandshakeRequest(mechanism: long).write(into: &buffer, version: 0)
        }
        #expect(error?.code == .invalidLength)
        // A compact string has no such limit.
        let heartbeat = KafkaHeartbeatRequest(groupId: long, generationId: 1, memberId: "m")
        var compact = ByteBuffer()
        try heartbeat.write(into: &compact, version: 4)
        #expect(try KafkaHeartbeatRequest(from: &compact, version: 4) == heartbeat)
        #expect(compact.readableBytes == 0)
    }

    // MARK: Strings that are not UTF-8

    static let invalidUTF8: [[UInt8]] = [
        [0xC3, 0x28],  // a lead byte followed by a non-continuation byte
        [0x80],  // a lone continuation byte
        [0xC0, 0xAF],  // an overlong encoding of "/"
        [0xED, 0xA0, 0x80],  // a UTF-16 surrogate
        [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
        [0x61, 0xE2, 0x82],  // a sequence cut short by the end of the string
    ]

    @Test(arguments: invalidUTF8)
    func invalidUTF8InAStringIsRefused(_ invalid: [UInt8]) {
        let bytes = [0x00, UInt8(invalid.count)] + invalid  // SaslHandshakeRequest v0: Mechanism
        #expect(read(KafkaSaslHandshakeRequest.self, version: 0, bytes) == .invalidString)
    }

    // MARK: Varints and tagged fields

    @Test func varintsLongerThan32BitsAreRefused() {
        // ApiVersionsRequest v3: ClientSoftwareName's compact length.
        let tooBig: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x00]
        #expect(read(KafkaApiVersionsRequest.self, version: 3, tooBig) == .invalidVarint)
        let tooLong: [UInt8] = [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]
        #expect(read(KafkaApiVersionsRequest.self, version: 3, tooLong) == .invalidVarint)
        #expect(read(KafkaApiVersionsRequest.self, version: 3, [0x80, 0x80]) == .truncated)
    }

    /// HeartbeatResponse v4: ThrottleTimeMs, ErrorCode, then the tagged-field section under test.
    private func heartbeatResponse(taggedFields: [UInt8]) -> [UInt8] {
        [0x00, 0x00, 0x00, 0x00, 0x00, 0x00] + taggedFields
    }

    @Test func malformedTaggedFieldSectionsAreRefused() {
        // 2^32 - 1 tagged fields in no bytes.
        let hugeCount = heartbeatResponse(taggedFields: [0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
        #expect(read(KafkaHeartbeatResponse.self, version: 4, hugeCount) == .invalidLength)
        // Tags must increase: 5 then 3, or 1 twice.
        let outOfOrder = heartbeatResponse(taggedFields: [0x02, 0x05, 0x00, 0x03, 0x00])
        #expect(read(KafkaHeartbeatResponse.self, version: 4, outOfOrder) == .invalidLength)
        let repeated = heartbeatResponse(taggedFields: [0x02, 0x01, 0x00, 0x01, 0x00])
        #expect(read(KafkaHeartbeatResponse.self, version: 4, repeated) == .invalidLength)
        // A field of 10 bytes with 2 left.
        let short = heartbeatResponse(taggedFields: [0x01, 0x00, 0x0A, 0xAA, 0xBB])
        #expect(read(KafkaHeartbeatResponse.self, version: 4, short) == .truncated)
        // A field size of 2^32 - 1.
        let hugeSize = heartbeatResponse(taggedFields: [0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
        #expect(read(KafkaHeartbeatResponse.self, version: 4, hugeSize) == .truncated)
        // Unknown tags are fine, whatever they hold.
        let unknown = heartbeatResponse(taggedFields: [0x02, 0x00, 0x01, 0xFF, 0x9F, 0x01, 0x00])
        var buffer = ByteBuffer(bytes: unknown)
        #expect(throws: Never.self) { _ = try KafkaHeartbeatResponse(from: &buffer, version: 4) }
    }

    @Test func aKnownTaggedFieldTooShortForItsValueIsRefused() {
        // ApiVersionsResponse v3 with tag 1 (FinalizedFeaturesEpoch, an int64) of 2 bytes.
        let bytes = wire {
            [0x00, 0x00, 0x01]  // ErrorCode, ApiKeys: empty
            [0x00, 0x00, 0x00, 0x00]  // ThrottleTimeMs
            [0x01, 0x01, 0x02, 0x00, 0x05]  // 1 tagged field: tag 1, 2 bytes
        }
        #expect(read(KafkaApiVersionsResponse.self, version: 3, bytes) == .truncated)
    }
}
