import MQTT5
import NIOCore
import Testing

@Suite struct MQTTSubAckPacketTests {
    @Test func subAcksHaveTheirKnownBytes() throws {
        try expectKnownBytes(
            .subAck(
                MQTTSubAckPacket(packetIdentifier: 10, reasonCodes: [.grantedQoS0, .grantedQoS1, .unspecifiedError])),
            bytes("90 06 | 00 0a | 00 | 00 01 80"))
        var properties = MQTTProperties()
        properties.reasonString = "no"
        try expectKnownBytes(
            .subAck(
                MQTTSubAckPacket(
                    packetIdentifier: 1, reasonCodes: [.wildcardSubscriptionsNotSupported], properties: properties)),
            bytes("90 09 | 00 01 | 05 1f 00 02 6e 6f | a2"))
    }

    static let malformed: [MalformedCase] = [
        MalformedCase("fixed header flags", "92 04 00 01 00 00", .invalidFlags, .malformedPacket),
        MalformedCase("No subscription existed", "90 04 00 01 00 11", .invalidReasonCode, .protocolError),
        MalformedCase("Granted QoS 3", "90 04 00 01 00 03", .invalidReasonCode, .protocolError),
        MalformedCase("no Reason Code", "90 03 00 01 00", .missingPayload, .protocolError),
        MalformedCase("Subscription Identifier", "90 RL 00 01 02 0b 01 00", .propertyNotAllowed, .malformedPacket),
        MalformedCase("Packet Identifier 0", "90 04 00 00 00 00", .invalidPacketIdentifier, .protocolError),
    ]

    @Test(arguments: malformed)
    func malformedSubAcksAreRefused(_ malformed: MalformedCase) {
        malformed.check()
    }

    @Test func subAcksThatCannotBeSentAreRefused() {
        #expect(encodeError(.subAck(MQTTSubAckPacket(packetIdentifier: 1, reasonCodes: [])))?.code == .missingPayload)
        #expect(
            encodeError(.subAck(MQTTSubAckPacket(packetIdentifier: 1, reasonCodes: [.noMatchingSubscribers])))?.code
                == .invalidReasonCode)
    }
}
