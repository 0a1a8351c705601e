import KafkaWire
import NIOCore
import Testing

@Suite struct PrimitivesTests {
    static let knownVarints: [(Int32, [UInt8])] = [
        (0, [0x00]), (-1, [0x01]), (1, [0x02]), (-64, [0x7F]), (64, [0x80, 0x01]),
        (Int32.max, [0xFE, 0xFF, 0xFF, 0xFF, 0x0F]), (Int32.min, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
    ]

    @Test(arguments: knownVarints)
    func zigZagVarintKnownBytes(value: Int32, bytes: [UInt8]) throws {
        var buffer = ByteBuffer()
        buffer.writeVarint(value)
        #expect(Array(buffer.readableBytesView) == bytes)
        #expect(try buffer.readVarint() == value)
        #expect(buffer.readableBytes == 0)
    }

    @Test func varlongRoundTripsExtremes() throws {
        for value in [Int64.min, -300, 0, 300, Int64.max] {
            var buffer = ByteBuffer()
            let written = buffer.writeVarlong(value)
            #expect(written == ByteBuffer.varintSize(value))
            #expect(try buffer.readVarlong() == value)
        }
    }

    @Test func unsignedVarintRefusesMoreThan32Bits() {
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        #expect(throws: KafkaWireError.self) { try buffer.readUnsignedVarint() }
        var truncated = ByteBuffer(bytes: [0x80, 0x80])
        #expect(throws: KafkaWireError.self) { try truncated.readUnsignedVarint() }
    }

    @Test func compactAndClassicStrings() throws {
        var buffer = ByteBuffer()
        try buffer.writeKafkaString("abc", compact: true)
        try buffer.writeKafkaString(nil, compact: true)
        try buffer.writeKafkaString("abc", compact: false)
        try buffer.writeKafkaString(nil, compact: false)
        #expect(Array(buffer.readableBytesView) == [4, 0x61, 0x62, 0x63, 0, 0, 3, 0x61, 0x62, 0x63, 0xFF, 0xFF])
        #expect(try buffer.readKafkaString(compact: true) == "abc")
        #expect(try buffer.readKafkaNullableString(compact: true) == nil)
        #expect(try buffer.readKafkaString(compact: false) == "abc")
        #expect(throws: KafkaWireError.self) { try buffer.readKafkaString(compact: false) }
    }

    @Test func arrayCountLargerThanTheBytesLeftIsRefused() {
        var buffer = ByteBuffer(bytes: [0x7F, 0xFF, 0xFF, 0xFF, 0x00])
        #expect(throws: KafkaWireError.self) { try buffer.readKafkaArrayCount(compact: false) }
    }

    @Test func errorCodesCarryNamesAndRetriability() {
        #expect(KafkaErrorCode.notLeaderOrFollower.name == "NOT_LEADER_OR_FOLLOWER")
        #expect(KafkaErrorCode.notLeaderOrFollower.isRetriable)
        #expect(!KafkaErrorCode.topicAlreadyExists.isRetriable)
        #expect(KafkaErrorCode(rawValue: 999).name == "UNKNOWN_ERROR_CODE_999")
    }
}
