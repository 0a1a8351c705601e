import MQTT5
import NIOCore
import Testing

@Suite struct MQTTSubscribePacketTests {
    @Test func theSpecPayloadExampleHasItsKnownBytes() throws {
        // Figure 3-21: "a/b" at QoS 1 and "c/d" at QoS 2; Packet Identifier 10 as in figure 3-19.
        try expectKnownBytes(
            .subscribe(
                MQTTSubscribePacket(
                    packetIdentifier: 10,
                    subscriptions: [
                        MQTTSubscription(
                            topicFilter: "a/b", options: MQTTSubscriptionOptions(maximumQoS: .atLeastOnce)),
                        MQTTSubscription(
                            topicFilter: "c/d", options: MQTTSubscriptionOptions(maximumQoS: .exactlyOnce)),
                    ])),
            bytes("82 0f | 00 0a | 00 | 00 03 61 2f 62 01 | 00 03 63 2f 64 02"))
    }

    @Test func subscriptionOptionsAndPropertiesHaveTheirKnownBytes() throws {
        var properties = MQTTProperties()
        properties.subscriptionIdentifiers = [5]
        properties.userProperties = [MQTTUserProperty(name: "k", value: "v")]
        try expectKnownBytes(
            .subscribe(
                MQTTSubscribePacket(
                    packetIdentifier: 7,
                    subscriptions: [
                        MQTTSubscription(
                            topicFilter: "a/+",
                            options: MQTTSubscriptionOptions(
                                maximumQoS: .atLeastOnce, noLocal: true, retainAsPublished: true,
                                retainHandling: .doNotSend)),
                        MQTTSubscription(
                            topicFilter: "$share/g/#",
                            options: MQTTSubscriptionOptions(retainHandling: .sendOnSubscribeIfNew)),
                    ], properties: properties)),
            bytes(
                """
                82 1f | 00 07 | 09 0b 05 26 00 01 6b 00 01 76
                | 00 03 61 2f 2b 2d | 00 0a 24 73 68 61 72 65 2f 67 2f 23 10
                """))
    }

    @Test func everyOptionsByteWithoutReservedBitsRoundTrips() throws {
        for raw in UInt8.min...UInt8.max {
            if raw & 0xC0 != 0 {
                expectError(.invalidFlags) { _ = try MQTTSubscriptionOptions(rawValue: raw) }
            } else if raw & 0x03 == 3 || raw & 0x30 == 0x30 {
                expectError(.invalidSubscriptionOptions) { _ = try MQTTSubscriptionOptions(rawValue: raw) }
            } else {
                #expect(try MQTTSubscriptionOptions(rawValue: raw).rawValue == raw)
            }
        }
    }

    static let malformed: [MalformedCase] = [
        MalformedCase("fixed header flags 0", "80 RL 00 01 00 00 01 61 00", .invalidFlags, .malformedPacket),
        MalformedCase("reserved options bit 6", "82 RL 00 01 00 00 01 61 40", .invalidFlags, .malformedPacket),
        MalformedCase("reserved options bit 7", "82 RL 00 01 00 00 01 61 80", .invalidFlags, .malformedPacket),
        MalformedCase("Maximum QoS 3", "82 RL 00 01 00 00 01 61 03", .invalidSubscriptionOptions, .protocolError),
        MalformedCase("Retain Handling 3", "82 RL 00 01 00 00 01 61 30", .invalidSubscriptionOptions, .protocolError),
        MalformedCase(
            "No Local on a shared subscription", "82 RL 00 01 00 00 0a 24 73 68 61 72 65 2f 67 2f 61 04",
            .invalidSubscriptionOptions, .protocolError),
        MalformedCase("no Topic Filter", "82 RL 00 01 00", .missingPayload, .protocolError),
        MalformedCase("Packet Identifier 0", "82 RL 00 00 00 00 01 61 00", .invalidPacketIdentifier, .protocolError),
        MalformedCase(
            "'#' not last", "82 RL 00 01 00 00 05 61 2f 23 2f 62 00", .invalidTopicFilter, .topicFilterInvalid),
        MalformedCase(
            "'+' inside a level", "82 RL 00 01 00 00 06 73 70 6f 72 74 2b 00", .invalidTopicFilter,
            .topicFilterInvalid),
        MalformedCase("empty Topic Filter", "82 RL 00 01 00 00 00 00", .invalidTopicFilter, .topicFilterInvalid),
        MalformedCase(
            "shared subscription without a filter", "82 RL 00 01 00 00 08 24 73 68 61 72 65 2f 67 00",
            .invalidTopicFilter, .topicFilterInvalid),
        MalformedCase(
            "Subscription Identifier twice", "82 RL 00 01 04 0b 01 0b 02 00 01 61 00", .duplicateProperty,
            .protocolError),
        MalformedCase(
            "Subscription Identifier 0", "82 RL 00 01 02 0b 00 00 01 61 00", .invalidPropertyValue,
            .protocolError),
        MalformedCase("Reason String", "82 RL 00 01 04 1f 00 01 61 00 01 61 00", .propertyNotAllowed, .malformedPacket),
        MalformedCase("a filter without its options byte", "82 RL 00 01 00 00 01 61", .truncated, .malformedPacket),
    ]

    @Test(arguments: malformed)
    func malformedSubscribesAreRefused(_ malformed: MalformedCase) {
        malformed.check()
    }

    @Test func subscribesThatCannotBeSentAreRefused() {
        func code(_ subscriptions: [MQTTSubscription]) -> MQTTProtocolError.Code? {
            encodeError(.subscribe(MQTTSubscribePacket(packetIdentifier: 1, subscriptions: subscriptions)))?.code
        }
        #expect(code([]) == .missingPayload)
        #expect(code([MQTTSubscription(topicFilter: "a#")]) == .invalidTopicFilter)
        #expect(
            code([MQTTSubscription(topicFilter: "$share/g/a", options: MQTTSubscriptionOptions(noLocal: true))])
                == .invalidSubscriptionOptions)
        #expect(
            encodeError(
                .subscribe(
                    MQTTSubscribePacket(packetIdentifier: 0, subscriptions: [MQTTSubscription(topicFilter: "a")])))?
                .code == .invalidPacketIdentifier)
    }
}
