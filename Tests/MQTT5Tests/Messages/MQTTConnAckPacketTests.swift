import MQTT5
import NIOCore
import Testing

@Suite struct MQTTConnAckPacketTests {
    @Test func theShortestConnAcksHaveTheirKnownBytes() throws {
        try expectKnownBytes(.connAck(MQTTConnAckPacket()), bytes("20 03 00 00 00"))
        try expectKnownBytes(.connAck(MQTTConnAckPacket(sessionPresent: true)), bytes("20 03 01 00 00"))
        try expectKnownBytes(
            .connAck(MQTTConnAckPacket(reasonCode: .badAuthenticationMethod)), bytes("20 03 00 8c 00"))
    }

    @Test func aConnAckWithEveryPropertyHasItsKnownBytes() throws {
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = 120
        properties.assignedClientIdentifier = "ab"
        properties.serverKeepAlive = 30
        properties.authenticationMethod = "m"
        properties.authenticationData = ByteBuffer(bytes: [0x01])
        properties.responseInformation = "r"
        properties.serverReference = "s"
        properties.reasonString = "ok"
        properties.receiveMaximum = 10
        properties.topicAliasMaximum = 5
        properties.maximumQoS = .atLeastOnce
        properties.retainAvailable = false
        properties.userProperties = [MQTTUserProperty(name: "a", value: "b")]
        properties.maximumPacketSize = 65_536
        properties.wildcardSubscriptionAvailable = false
        properties.subscriptionIdentifiersAvailable = true
        properties.sharedSubscriptionAvailable = false
        try expectKnownBytes(
            .connAck(MQTTConnAckPacket(properties: properties)),
            bytes(
                """
                20 41 | 00 | 00 | 3e
                | 11 00 00 00 78 | 12 00 02 61 62 | 13 00 1e | 15 00 01 6d | 16 00 01 01 | 1a 00 01 72 | 1c 00 01 73
                | 1f 00 02 6f 6b | 21 00 0a | 22 00 05 | 24 01 | 25 00 | 26 00 01 61 00 01 62 | 27 00 01 00 00
                | 28 00 | 29 01 | 2a 00
                """))
    }

    static let malformed: [MalformedCase] = [
        MalformedCase("reserved acknowledge flags", "20 03 02 00 00", .invalidFlags, .malformedPacket),
        MalformedCase("fixed header flags", "21 03 00 00 00", .invalidFlags, .malformedPacket),
        MalformedCase("a PUBACK Reason Code", "20 03 00 10 00", .invalidReasonCode, .protocolError),
        MalformedCase("Granted QoS 1", "20 03 00 01 00", .invalidReasonCode, .protocolError),
        MalformedCase("Session Present with a failure", "20 03 01 87 00", .inconsistentFields, .protocolError),
        MalformedCase("no Property Length", "20 02 00 00", .truncated, .malformedPacket),
        MalformedCase("a byte after the properties", "20 04 00 00 00 00", .trailingBytes, .malformedPacket),
        MalformedCase("Topic Alias", "20 RL 00 00 03 23 00 01", .propertyNotAllowed, .malformedPacket),
        MalformedCase("Will Delay Interval", "20 RL 00 00 05 18 00 00 00 01", .propertyNotAllowed, .malformedPacket),
        MalformedCase("Receive Maximum twice", "20 RL 00 00 06 21 00 01 21 00 01", .duplicateProperty, .protocolError),
        MalformedCase("Maximum QoS 2", "20 RL 00 00 02 24 02", .invalidPropertyValue, .protocolError),
        MalformedCase("Retain Available 2", "20 RL 00 00 02 25 02", .invalidPropertyValue, .protocolError),
        MalformedCase("Receive Maximum 0", "20 RL 00 00 03 21 00 00", .invalidPropertyValue, .protocolError),
        MalformedCase(
            "Maximum Packet Size 0", "20 RL 00 00 05 27 00 00 00 00", .invalidPropertyValue, .protocolError),
        MalformedCase("unknown property 0x14", "20 RL 00 00 02 14 00", .unknownProperty, .malformedPacket),
        MalformedCase(
            "Reason String with bad UTF-8", "20 RL 00 00 04 1f 00 01 c3", .invalidString, .malformedPacket),
        MalformedCase(
            "Property Length longer than the packet", "20 RL 00 00 09 13 00 1e", .truncated, .malformedPacket),
    ]

    @Test(arguments: malformed)
    func malformedConnAcksAreRefused(_ malformed: MalformedCase) {
        malformed.check()
    }

    @Test func connAcksThatCannotBeSentAreRefused() {
        #expect(encodeError(.connAck(MQTTConnAckPacket(reasonCode: .grantedQoS2)))?.code == .invalidReasonCode)
        #expect(
            encodeError(.connAck(MQTTConnAckPacket(sessionPresent: true, reasonCode: .notAuthorized)))?.code
                == .inconsistentFields)
        var properties = MQTTProperties()
        properties.maximumQoS = .exactlyOnce
        #expect(encodeError(.connAck(MQTTConnAckPacket(properties: properties)))?.code == .invalidPropertyValue)
    }
}
