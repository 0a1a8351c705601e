import MQTT5
import NIOCore
import Testing

@Suite struct MQTTConnectPacketTests {
    @Test func aConnectWithWillCredentialsAndPropertiesHasItsKnownBytes() throws {
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = 60
        properties.receiveMaximum = 20
        var willProperties = MQTTProperties()
        willProperties.willDelayInterval = 5
        let packet = MQTTConnectPacket(
            clientIdentifier: "c1", cleanStart: true, keepAlive: 10, properties: properties,
            will: MQTTWill(topic: "w", payload: buffer("x"), qos: .exactlyOnce, properties: willProperties),
            userName: "u", password: buffer("p"))
        try expectKnownBytes(
            .connect(packet),
            bytes(
                """
                10 29 | 00 04 4d 51 54 54 | 05 | d6 | 00 0a | 08 11 00 00 00 3c 21 00 14 | 00 02 63 31
                | 05 18 00 00 00 05 | 00 01 77 | 00 01 78 | 00 01 75 | 00 01 70
                """))
    }

    @Test func theSpecVariableHeaderExampleDecodes() throws {
        // Figure 3-6: flags 0xCE (user name, password, Will QoS 1, Will, Clean Start), Keep Alive 10, Session
        // Expiry Interval 10; a payload added to make it a whole packet.
        let packet = try decode(
            bytes(
                """
                10 1e | 00 04 4d 51 54 54 | 05 | ce | 00 0a | 05 11 00 00 00 0a | 00 01 78
                | 00 | 00 01 74 | 00 00 | 00 01 75 | 00 00
                """))
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = 10
        #expect(
            packet
                == .connect(
                    MQTTConnectPacket(
                        clientIdentifier: "x", keepAlive: 10, properties: properties,
                        will: MQTTWill(topic: "t", payload: ByteBuffer(), qos: .atLeastOnce), userName: "u",
                        password: ByteBuffer())))
    }

    @Test func theSmallestConnectHasItsKnownBytes() throws {
        try expectKnownBytes(
            .connect(MQTTConnectPacket(clientIdentifier: "")),
            bytes("10 0d | 00 04 4d 51 54 54 | 05 | 02 | 00 3c | 00 | 00 00"))
    }

    @Test func aPasswordWithoutAUserNameIsAllowed() throws {
        try expectKnownBytes(
            .connect(MQTTConnectPacket(clientIdentifier: "a", cleanStart: false, keepAlive: 0, password: buffer("t"))),
            bytes("10 11 | 00 04 4d 51 54 54 | 05 | 40 | 00 00 | 00 | 00 01 61 | 00 01 74"))
    }

    @Test func willRetainAndEveryWillQoSAreFlags() throws {
        for qos in MQTTQoS.allCases {
            let packet = MQTTPacket.connect(
                MQTTConnectPacket(
                    clientIdentifier: "", will: MQTTWill(topic: "w", payload: ByteBuffer(), qos: qos, retain: true)))
            let encoded = try encode(packet)
            #expect(encoded[9] == 0x02 | 0x04 | qos.rawValue << 3 | 0x20)
            #expect(try decode(encoded) == packet)
        }
    }

    static let malformed: [MalformedCase] = [
        MalformedCase(
            "MQTT 3.1 protocol name", "10 RL 00 06 4d 51 49 73 64 70 03 02 00 3c 00 01 61", .unsupportedProtocolVersion,
            .unsupportedProtocolVersion),
        MalformedCase(
            "protocol version 4", "10 RL 00 04 4d 51 54 54 04 02 00 3c 00 01 61", .unsupportedProtocolVersion,
            .unsupportedProtocolVersion),
        MalformedCase(
            "reserved connect flag", "10 RL 00 04 4d 51 54 54 05 03 00 3c 00 00 00", .invalidFlags, .malformedPacket),
        MalformedCase(
            "Will QoS 3", "10 RL 00 04 4d 51 54 54 05 1e 00 3c 00 00 00 | 00 00 01 77 00 00", .invalidQoS,
            .malformedPacket),
        MalformedCase(
            "Will QoS without the Will Flag", "10 RL 00 04 4d 51 54 54 05 0a 00 3c 00 00 00", .invalidFlags,
            .malformedPacket),
        MalformedCase(
            "Will Retain without the Will Flag", "10 RL 00 04 4d 51 54 54 05 22 00 3c 00 00 00", .invalidFlags,
            .malformedPacket),
        MalformedCase(
            "Will Topic with a wildcard", "10 RL 00 04 4d 51 54 54 05 06 00 3c 00 00 00 | 00 00 01 23 00 00",
            .invalidTopicName, .topicNameInvalid),
        MalformedCase(
            "empty Will Topic", "10 RL 00 04 4d 51 54 54 05 06 00 3c 00 00 00 | 00 00 00 00 00", .invalidTopicName,
            .topicNameInvalid),
        MalformedCase(
            "Authentication Data without a method", "10 RL 00 04 4d 51 54 54 05 02 00 3c 04 16 00 01 aa 00 00",
            .missingProperty, .protocolError),
        MalformedCase(
            "Topic Alias in CONNECT", "10 RL 00 04 4d 51 54 54 05 02 00 3c 03 23 00 01 00 00", .propertyNotAllowed,
            .malformedPacket),
        MalformedCase(
            "Session Expiry in the Will Properties",
            "10 RL 00 04 4d 51 54 54 05 06 00 3c 00 00 00 | 05 11 00 00 00 01 00 01 77 00 00", .propertyNotAllowed,
            .malformedPacket),
        MalformedCase(
            "user name flag but no user name", "10 RL 00 04 4d 51 54 54 05 82 00 3c 00 00 00", .truncated,
            .malformedPacket),
        MalformedCase(
            "a byte after the last field", "10 RL 00 04 4d 51 54 54 05 02 00 3c 00 00 00 ff", .trailingBytes,
            .malformedPacket),
        MalformedCase(
            "Remaining Length shorter than the fields", "10 0c 00 04 4d 51 54 54 05 02 00 3c 00 00 00", .truncated,
            .malformedPacket),
        MalformedCase(
            "fixed header flags", "12 RL 00 04 4d 51 54 54 05 02 00 3c 00 00 00", .invalidFlags, .malformedPacket),
        MalformedCase(
            "Client Identifier with U+0000", "10 RL 00 04 4d 51 54 54 05 02 00 3c 00 00 01 00", .invalidString,
            .malformedPacket),
        MalformedCase(
            "Client Identifier with an encoded surrogate", "10 RL 00 04 4d 51 54 54 05 02 00 3c 00 00 03 ed a0 80",
            .invalidString, .malformedPacket),
        MalformedCase(
            "Receive Maximum twice", "10 RL 00 04 4d 51 54 54 05 02 00 3c 06 21 00 01 21 00 02 00 00",
            .duplicateProperty, .protocolError),
    ]

    @Test(arguments: malformed)
    func malformedConnectsAreRefused(_ malformed: MalformedCase) {
        malformed.check()
    }

    @Test func connectsThatCannotBeSentAreRefused() {
        let will = MQTTWill(topic: "a/#", payload: ByteBuffer())
        #expect(encodeError(.connect(MQTTConnectPacket(clientIdentifier: "c", will: will)))?.code == .invalidTopicName)
        #expect(encodeError(.connect(MQTTConnectPacket(clientIdentifier: "c\u{0}")))?.code == .invalidString)
        var properties = MQTTProperties()
        properties.authenticationData = buffer("x")
        #expect(
            encodeError(.connect(MQTTConnectPacket(clientIdentifier: "c", properties: properties)))?.code
                == .missingProperty)
        properties = MQTTProperties()
        properties.topicAlias = 1
        let error = encodeError(.connect(MQTTConnectPacket(clientIdentifier: "c", properties: properties)))
        #expect(error?.code == .propertyNotAllowed)
        #expect(error?.packetType == .connect)
    }
}
