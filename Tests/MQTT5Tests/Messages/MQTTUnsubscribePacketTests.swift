import MQTT5
import NIOCore
import Testing

@Suite struct MQTTUnsubscribePacketTests {
    @Test func theSpecPayloadExampleHasItsKnownBytes() throws {
        // Figure 3.30: "a/b" and "c/d".
        try expectKnownBytes(
            .unsubscribe(MQTTUnsubscribePacket(packetIdentifier: 10, topicFilters: ["a/b", "c/d"])),
            bytes("a2 0d | 00 0a | 00 | 00 03 61 2f 62 | 00 03 63 2f 64"))
    }

    @Test func userPropertiesHaveTheirKnownBytes() throws {
        var properties = MQTTProperties()
        properties.userProperties = [MQTTUserProperty(name: "k", value: "v")]
        try expectKnownBytes(
            .unsubscribe(MQTTUnsubscribePacket(packetIdentifier: 2, topicFilters: ["#"], properties: properties)),
            bytes("a2 0d | 00 02 | 07 26 00 01 6b 00 01 76 | 00 01 23"))
    }

    static let malformed: [MalformedCase] = [
        MalformedCase("fixed header flags 0", "a0 RL 00 01 00 00 01 61", .invalidFlags, .malformedPacket),
        MalformedCase("no Topic Filter", "a2 RL 00 01 00", .missingPayload, .protocolError),
        MalformedCase("invalid Topic Filter", "a2 RL 00 01 00 00 02 23 2f", .invalidTopicFilter, .topicFilterInvalid),
        MalformedCase(
            "Subscription Identifier", "a2 RL 00 01 02 0b 01 00 01 61", .propertyNotAllowed, .malformedPacket),
        MalformedCase("Packet Identifier 0", "a2 RL 00 00 00 00 01 61", .invalidPacketIdentifier, .protocolError),
        MalformedCase("a filter cut short", "a2 RL 00 01 00 00 02 61", .truncated, .malformedPacket),
    ]

    @Test(arguments: malformed)
    func malformedUnsubscribesAreRefused(_ malformed: MalformedCase) {
        malformed.check()
    }

    @Test func unsubscribesThatCannotBeSentAreRefused() {
        #expect(
            encodeError(.unsubscribe(MQTTUnsubscribePacket(packetIdentifier: 1, topicFilters: [])))?.code
                == .missingPayload)
        #expect(
            encodeError(.unsubscribe(MQTTUnsubscribePacket(packetIdentifier: 1, topicFilters: ["a/#/b"])))?.code
                == .invalidTopicFilter)
    }
}
