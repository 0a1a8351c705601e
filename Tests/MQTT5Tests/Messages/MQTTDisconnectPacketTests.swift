import MQTT5
import NIOCore
import Testing

@Suite struct MQTTDisconnectPacketTests {
    @Test func aNormalDisconnectionIsTwoBytes() throws {
        try expectKnownBytes(.disconnect(MQTTDisconnectPacket()), bytes("e0 00"))
    }

    @Test func aReasonCodeWithoutPropertiesIsThreeBytes() throws {
        try expectKnownBytes(
            .disconnect(MQTTDisconnectPacket(reasonCode: .disconnectWithWillMessage)), bytes("e0 01 04"))
        try expectKnownBytes(.disconnect(MQTTDisconnectPacket(reasonCode: .packetTooLarge)), bytes("e0 01 95"))
    }

    @Test func theLongFormHasItsKnownBytes() throws {
        var properties = MQTTProperties()
        properties.serverReference = "s"
        properties.reasonString = "bye"
        try expectKnownBytes(
            .disconnect(MQTTDisconnectPacket(reasonCode: .serverShuttingDown, properties: properties)),
            bytes("e0 0c | 8b | 0a 1c 00 01 73 1f 00 03 62 79 65"))
        properties = MQTTProperties()
        properties.sessionExpiryInterval = 0
        try expectKnownBytes(
            .disconnect(MQTTDisconnectPacket(properties: properties)), bytes("e0 07 | 00 | 05 11 00 00 00 00"))
    }

    @Test func longerFormsOfNormalDisconnectionDecodeToTheShortForm() throws {
        #expect(try decode(bytes("e0 01 00")) == .disconnect(MQTTDisconnectPacket()))
        #expect(try decode(bytes("e0 02 00 00")) == .disconnect(MQTTDisconnectPacket()))
    }

    @Test func everyReasonCodeOfTable3_10DecodesAndNoOther() {
        for raw in UInt8.min...UInt8.max {
            let code = MQTTReasonCode(rawValue: raw)
            if code.isAllowed(in: .disconnect) {
                #expect((try? decode([0xE0, 0x01, raw])) == .disconnect(MQTTDisconnectPacket(reasonCode: code)))
            } else {
                #expect(decodeError([0xE0, 0x01, raw])?.code == .invalidReasonCode)
            }
        }
    }

    static let malformed: [MalformedCase] = [
        MalformedCase("reserved flags", "e1 00", .invalidFlags, .malformedPacket),
        MalformedCase("Bad authentication method", "e0 01 8c", .invalidReasonCode, .protocolError),
        MalformedCase("Granted QoS 1", "e0 01 01", .invalidReasonCode, .protocolError),
        MalformedCase("Topic Alias", "e0 RL 00 03 23 00 01", .propertyNotAllowed, .malformedPacket),
        MalformedCase("Property Length past the end", "e0 03 00 05 11", .truncated, .malformedPacket),
        MalformedCase(
            "Server Reference twice", "e0 RL 9c 08 1c 00 01 61 1c 00 01 62", .duplicateProperty, .protocolError),
        MalformedCase("a byte after the properties", "e0 03 00 00 00", .trailingBytes, .malformedPacket),
    ]

    @Test(arguments: malformed)
    func malformedDisconnectsAreRefused(_ malformed: MalformedCase) {
        malformed.check()
    }
}
