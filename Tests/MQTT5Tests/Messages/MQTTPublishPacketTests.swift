import MQTT5
import NIOCore
import Testing

@Suite struct MQTTPublishPacketTests {
    @Test func aQoS0PublishHasItsKnownBytes() throws {
        try expectKnownBytes(
            .publish(MQTTPublishPacket(topicName: "a/b", payload: buffer("hi"))),
            bytes("30 08 | 00 03 61 2f 62 | 00 | 68 69"))
    }

    @Test func aRetainedQoS1PublishHasItsKnownBytes() throws {
        // Figure 3-9: Topic Name "a/b", Packet Identifier 10, no properties.
        try expectKnownBytes(
            .publish(
                MQTTPublishPacket(
                    topicName: "a/b", payload: buffer("hi"), qos: .atLeastOnce, retain: true, packetIdentifier: 10)),
            bytes("33 0a | 00 03 61 2f 62 | 00 0a | 00 | 68 69"))
    }

    @Test func aDuplicateQoS2PublishWithPropertiesHasItsKnownBytes() throws {
        var properties = MQTTProperties()
        properties.payloadFormatIndicator = .utf8
        properties.messageExpiryInterval = 60
        properties.contentType = "j"
        properties.responseTopic = "r"
        properties.correlationData = ByteBuffer(bytes: [0xC0])
        properties.subscriptionIdentifiers = [128, 1]
        properties.topicAlias = 2
        properties.userProperties = [MQTTUserProperty(name: "k", value: "v")]
        try expectKnownBytes(
            .publish(
                MQTTPublishPacket(
                    topicName: "t", payload: buffer("x"), qos: .exactlyOnce, dup: true, packetIdentifier: 0x1234,
                    properties: properties)),
            bytes(
                """
                3c 29 | 00 01 74 | 12 34 | 22
                | 01 01 | 02 00 00 00 3c | 03 00 01 6a | 08 00 01 72 | 09 00 01 c0 | 0b 80 01 | 0b 01 | 23 00 02
                | 26 00 01 6b 00 01 76 | 78
                """))
    }

    @Test func anEmptyTopicNameWithATopicAliasAndAnEmptyPayloadAreAllowed() throws {
        var properties = MQTTProperties()
        properties.topicAlias = 7
        try expectKnownBytes(
            .publish(MQTTPublishPacket(topicName: "", payload: ByteBuffer(), properties: properties)),
            bytes("30 06 | 00 00 | 03 23 00 07"))
    }

    @Test func aPayloadLargeEnoughForAThreeByteRemainingLengthIsWrittenWhole() throws {
        let payload = ByteBuffer(repeating: 0x5A, count: 20_000)
        let packet = MQTTPacket.publish(
            MQTTPublishPacket(topicName: "big", payload: payload, qos: .atLeastOnce, packetIdentifier: 9))
        let encoded = try encode(packet)
        // Remaining Length 5 + 2 + 1 + 20,000 = 20,008 = 0xA8 0x9C 0x01.
        #expect(Array(encoded.prefix(13)) == bytes("32 a8 9c 01 | 00 03 62 69 67 | 00 09 | 00 | 5a"))
        #expect(encoded.count == 4 + 20_008)
        #expect(try decode(encoded) == packet)
    }

    static let malformed: [MalformedCase] = [
        MalformedCase("QoS 3", "36 RL 00 01 74 00 01 00", .invalidQoS, .malformedPacket),
        MalformedCase("QoS 3 with DUP and RETAIN", "3f RL 00 01 74 00 01 00", .invalidQoS, .malformedPacket),
        MalformedCase("DUP on QoS 0", "38 RL 00 01 74 00", .invalidFlags, .malformedPacket),
        MalformedCase("Packet Identifier 0", "32 RL 00 01 74 00 00 00", .invalidPacketIdentifier, .protocolError),
        MalformedCase("'+' in the Topic Name", "30 RL 00 03 61 2f 2b 00", .invalidTopicName, .topicNameInvalid),
        MalformedCase("'#' in the Topic Name", "30 RL 00 01 23 00", .invalidTopicName, .topicNameInvalid),
        MalformedCase(
            "empty Topic Name without a Topic Alias", "30 RL 00 00 00 68 69", .missingTopicName, .protocolError),
        MalformedCase("Topic Alias 0", "30 RL 00 01 74 03 23 00 00", .invalidTopicAlias, .topicAliasInvalid),
        MalformedCase(
            "Topic Alias twice", "30 RL 00 01 74 06 23 00 01 23 00 02", .duplicateProperty, .protocolError),
        MalformedCase(
            "Content Type twice", "30 RL 00 01 74 08 03 00 01 61 03 00 01 62", .duplicateProperty, .protocolError),
        MalformedCase("Subscription Identifier 0", "30 RL 00 01 74 02 0b 00", .invalidPropertyValue, .protocolError),
        MalformedCase(
            "a five-byte Subscription Identifier", "30 RL 00 01 74 06 0b ff ff ff ff 7f", .invalidVariableByteInteger,
            .malformedPacket),
        MalformedCase(
            "Reason String in PUBLISH", "30 RL 00 01 74 04 1f 00 01 61", .propertyNotAllowed, .malformedPacket),
        MalformedCase("Payload Format Indicator 2", "30 RL 00 01 74 02 01 02", .invalidPropertyValue, .protocolError),
        MalformedCase("Topic Name with U+0000", "30 RL 00 02 61 00 00", .invalidString, .malformedPacket),
        MalformedCase("Topic Name with bad UTF-8", "30 RL 00 02 61 ff 00", .invalidString, .malformedPacket),
        MalformedCase("Topic Name longer than the packet", "30 04 00 09 61 62", .truncated, .malformedPacket),
        MalformedCase("no Property Length", "30 03 00 01 74", .truncated, .malformedPacket),
        MalformedCase("QoS 1 without a Packet Identifier", "32 04 00 01 74 00", .truncated, .malformedPacket),
    ]

    @Test(arguments: malformed)
    func malformedPublishesAreRefused(_ malformed: MalformedCase) {
        malformed.check()
    }

    @Test func publishesThatCannotBeSentAreRefused() {
        func code(_ packet: MQTTPublishPacket) -> MQTTProtocolError.Code? { encodeError(.publish(packet))?.code }
        #expect(
            code(MQTTPublishPacket(topicName: "t", payload: ByteBuffer(), qos: .atLeastOnce))
                == .invalidPacketIdentifier)
        #expect(
            code(MQTTPublishPacket(topicName: "t", payload: ByteBuffer(), packetIdentifier: 1))
                == .invalidPacketIdentifier)
        #expect(
            code(MQTTPublishPacket(topicName: "t", payload: ByteBuffer(), qos: .exactlyOnce, packetIdentifier: 0))
                == .invalidPacketIdentifier)
        #expect(code(MQTTPublishPacket(topicName: "t", payload: ByteBuffer(), dup: true)) == .invalidFlags)
        #expect(code(MQTTPublishPacket(topicName: "a/+", payload: ByteBuffer())) == .invalidTopicName)
        #expect(code(MQTTPublishPacket(topicName: "", payload: ByteBuffer())) == .missingTopicName)
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = 1
        #expect(
            code(MQTTPublishPacket(topicName: "t", payload: ByteBuffer(), properties: properties))
                == .propertyNotAllowed)
    }

    @Test func theFixedHeaderFlagsCarryDupQoSAndRetain() {
        #expect(MQTTPublishPacket(topicName: "t", payload: ByteBuffer()).fixedHeaderFlags == 0)
        #expect(
            MQTTPublishPacket(
                topicName: "t", payload: ByteBuffer(), qos: .exactlyOnce, retain: true, dup: true, packetIdentifier: 1
            ).fixedHeaderFlags == 0x0D)
    }
}
