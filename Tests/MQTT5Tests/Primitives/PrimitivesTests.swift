import MQTT5
import NIOCore
import Testing

@Suite struct PrimitivesTests {
    // MARK: Variable Byte Integer (1.5.5, table 1-1)

    static let knownVariableByteIntegers: [(Int, [UInt8])] = [
        (0, [0x00]), (127, [0x7F]),
        (128, [0x80, 0x01]), (16_383, [0xFF, 0x7F]),
        (16_384, [0x80, 0x80, 0x01]), (2_097_151, [0xFF, 0xFF, 0x7F]),
        (2_097_152, [0x80, 0x80, 0x80, 0x01]), (268_435_455, [0xFF, 0xFF, 0xFF, 0x7F]),
        (321, [0xC1, 0x02]),
    ]

    @Test(arguments: knownVariableByteIntegers)
    func variableByteIntegerKnownBytes(value: Int, encoded: [UInt8]) throws {
        var buffer = ByteBuffer()
        #expect(try buffer.writeMQTTVariableByteInteger(value) == encoded.count)
        #expect(Array(buffer.readableBytesView) == encoded)
        #expect(ByteBuffer.mqttVariableByteIntegerSize(value) == encoded.count)
        #expect(try buffer.readMQTTVariableByteInteger() == value)
        #expect(buffer.readableBytes == 0)
    }

    @Test func aFifthVariableByteIntegerByteIsMalformed() {
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        expectError(.invalidVariableByteInteger) {
            _ = try buffer.readMQTTVariableByteInteger()
        }
        // Refused as soon as the fourth byte shows a continuation bit, without waiting for a fifth.
        #expect(throws: MQTTProtocolError.self) {
            try ByteBuffer(bytes: [0x80, 0x80, 0x80, 0x80]).peekMQTTVariableByteInteger(at: 0)
        }
    }

    @Test(arguments: [[0x80, 0x00], [0xFF, 0x00], [0x80, 0x80, 0x00], [0xFF, 0xFF, 0xFF, 0x00]] as [[UInt8]])
    func aVariableByteIntegerLongerThanItsValueNeedsIsMalformed(encoded: [UInt8]) {
        var buffer = ByteBuffer(bytes: encoded)
        let error = #expect(throws: MQTTProtocolError.self) { try buffer.readMQTTVariableByteInteger() }
        #expect(error?.code == .invalidVariableByteInteger)
        #expect(error?.disconnectReason == .malformedPacket)
    }

    @Test func aTruncatedVariableByteIntegerIsIncompleteOrTruncated() throws {
        let buffer = ByteBuffer(bytes: [0x80, 0x80])
        #expect(try buffer.peekMQTTVariableByteInteger(at: 0) == .incomplete)
        var reading = buffer
        expectError(.truncated) { _ = try reading.readMQTTVariableByteInteger() }
    }

    @Test func variableByteIntegersOutOfRangeCannotBeWritten() {
        var buffer = ByteBuffer()
        expectError(.valueTooLarge) {
            try buffer.writeMQTTVariableByteInteger(268_435_456)
        }
        expectError(.valueTooLarge) { try buffer.writeMQTTVariableByteInteger(-1) }
        #expect(buffer.readableBytes == 0)
    }

    // MARK: Integers

    @Test func twoAndFourByteIntegersAreBigEndian() throws {
        var buffer = ByteBuffer(bytes: [0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x01])
        #expect(try buffer.readMQTTTwoByteInteger() == 0x1234)
        #expect(try buffer.readMQTTFourByteInteger() == 0xDEAD_BEEF)
        expectError(.truncated) { _ = try buffer.readMQTTTwoByteInteger() }
        expectError(.truncated) { _ = try buffer.readMQTTFourByteInteger() }
    }

    // MARK: UTF-8 Encoded Strings (1.5.4)

    @Test func theSpecExampleStringEncodes() throws {
        // Figure 1-2: "A" followed by U+2A6D4.
        var buffer = ByteBuffer()
        try buffer.writeMQTTString("A\u{2A6D4}")
        #expect(Array(buffer.readableBytesView) == [0x00, 0x05, 0x41, 0xF0, 0xAA, 0x9B, 0x94])
        #expect(try buffer.readMQTTString() == "A\u{2A6D4}")
    }

    @Test func emptyStringsAndAByteOrderMarkAreKept() throws {
        var buffer = ByteBuffer(bytes: [0x00, 0x00, 0x00, 0x04, 0xEF, 0xBB, 0xBF, 0x61])
        #expect(try buffer.readMQTTString() == "")
        // [MQTT-1.5.4-3]: U+FEFF is not stripped.
        let string = try buffer.readMQTTString()
        #expect(Array(string.unicodeScalars) == ["\u{FEFF}", "a"])
    }

    static let illFormedStrings: [(String, [UInt8])] = [
        ("U+0000", [0x00, 0x03, 0x61, 0x00, 0x62]),
        ("overlong U+0000", [0x00, 0x02, 0xC0, 0x80]),
        ("high surrogate U+D800", [0x00, 0x03, 0xED, 0xA0, 0x80]),
        ("low surrogate U+DFFF", [0x00, 0x03, 0xED, 0xBF, 0xBF]),
        ("lone continuation byte", [0x00, 0x01, 0x80]),
        ("truncated sequence", [0x00, 0x02, 0xE2, 0x82]),
        ("beyond U+10FFFF", [0x00, 0x04, 0xF4, 0x90, 0x80, 0x80]),
        ("0xFF", [0x00, 0x01, 0xFF]),
        ("overlong slash", [0x00, 0x02, 0xC0, 0xAF]),
    ]

    @Test(arguments: illFormedStrings)
    func illFormedUTF8AndNullAreMalformed(name: String, encoded: [UInt8]) {
        var buffer = ByteBuffer(bytes: encoded)
        let error = #expect(throws: MQTTProtocolError.self, "\(name)") { try buffer.readMQTTString() }
        #expect(error?.code == .invalidString)
        #expect(error?.disconnectReason == .malformedPacket)
    }

    @Test func controlCharactersAndNonCharactersAreAccepted() throws {
        // SHOULD NOT be sent, MAY be refused; accepted here (5.4.9).
        var buffer = ByteBuffer(bytes: [0x00, 0x05, 0x01, 0x7F, 0xEF, 0xBF, 0xBF])
        #expect(try buffer.readMQTTString() == "\u{01}\u{7F}\u{FFFF}")
    }

    @Test func aStringLongerThanItsBytesIsTruncated() {
        var buffer = ByteBuffer(bytes: [0x00, 0x05, 0x61, 0x62])
        expectError(.truncated) { _ = try buffer.readMQTTString() }
        var noLength = ByteBuffer(bytes: [0x00])
        expectError(.truncated) { _ = try noLength.readMQTTString() }
    }

    @Test func stringsThatCannotBeSentAreRefusedWhenWritten() throws {
        var buffer = ByteBuffer()
        try buffer.writeMQTTString(String(repeating: "a", count: 65_535))
        #expect(buffer.readableBytes == 65_537)
        expectError(.valueTooLarge) {
            try buffer.writeMQTTString(String(repeating: "é", count: 32_768))  // 65,536 bytes
        }
        expectError(.invalidString) { try buffer.writeMQTTString("a\u{0}b") }
        #expect(buffer.readableBytes == 65_537)
    }

    // MARK: Binary Data (1.5.6)

    @Test func binaryDataRoundTripsAndIsLimitedTo65535Bytes() throws {
        var buffer = ByteBuffer()
        try buffer.writeMQTTBinary(ByteBuffer(bytes: [0x00, 0xFF]))
        try buffer.writeMQTTBinary(ByteBuffer())
        #expect(Array(buffer.readableBytesView) == [0x00, 0x02, 0x00, 0xFF, 0x00, 0x00])
        #expect(try buffer.readMQTTBinary() == ByteBuffer(bytes: [0x00, 0xFF]))
        #expect(try buffer.readMQTTBinary() == ByteBuffer())
        expectError(.valueTooLarge) {
            try buffer.writeMQTTBinary(ByteBuffer(repeating: 0, count: 65_536))
        }
        var truncated = ByteBuffer(bytes: [0x00, 0x03, 0x01])
        expectError(.truncated) { _ = try truncated.readMQTTBinary() }
    }

    // MARK: Length-prefixed sections

    @Test(arguments: [0, 1, 127, 128, 16_383, 16_384, 70_000])
    func aLengthPrefixedSectionMovesItsBodyBehindTheShortestLength(bodyLength: Int) throws {
        var buffer = ByteBuffer(bytes: [0xEE])
        try buffer.writeMQTTLengthPrefixed { (body: inout ByteBuffer) throws(MQTTProtocolError) in
            body.writeRepeatingByte(0x42, count: bodyLength)
        }
        #expect(buffer.readInteger(as: UInt8.self) == 0xEE)
        #expect(try buffer.readMQTTVariableByteInteger() == bodyLength)
        #expect(buffer.readableBytes == bodyLength)
        #expect(buffer.readableBytesView.allSatisfy { $0 == 0x42 })
    }
}
