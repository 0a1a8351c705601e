import MQTT5
import NIOCore
import Testing

@Suite struct MQTTUnsubAckPacketTests {
    @Test func unsubAcksHaveTheirKnownBytes() throws {
        try expectKnownBytes(
            .unsubAck(MQTTUnsubAckPacket(packetIdentifier: 10, reasonCodes: [.success, .noSubscriptionExisted])),
            bytes("b0 05 | 00 0a | 00 | 00 11"))
        var properties = MQTTProperties()
        properties.userProperties = [MQTTUserProperty(name: "", value: "")]
        try expectKnownBytes(
            .unsubAck(
                MQTTUnsubAckPacket(packetIdentifier: 3, reasonCodes: [.topicFilterInvalid], properties: properties)),
            bytes("b0 09 | 00 03 | 05 26 00 00 00 00 | 8f"))
    }

    static let malformed: [MalformedCase] = [
        MalformedCase("fixed header flags", "b2 04 00 01 00 00", .invalidFlags, .malformedPacket),
        MalformedCase("Granted QoS 1", "b0 04 00 01 00 01", .invalidReasonCode, .protocolError),
        MalformedCase("no Reason Code", "b0 03 00 01 00", .missingPayload, .protocolError),
        MalformedCase("Server Reference", "b0 RL 00 01 04 1c 00 01 61 00", .propertyNotAllowed, .malformedPacket),
    ]

    @Test(arguments: malformed)
    func malformedUnsubAcksAreRefused(_ malformed: MalformedCase) {
        malformed.check()
    }
}
