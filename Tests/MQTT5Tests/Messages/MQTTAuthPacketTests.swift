import MQTT5
import NIOCore
import Testing

@Suite struct MQTTAuthPacketTests {
    @Test func successWithoutPropertiesIsTwoBytes() throws {
        try expectKnownBytes(.auth(MQTTAuthPacket()), bytes("f0 00"))
        #expect(try decode(bytes("f0 02 00 00")) == .auth(MQTTAuthPacket()))
    }

    @Test func continueAuthenticationHasItsKnownBytes() throws {
        var properties = MQTTProperties()
        properties.authenticationMethod = "SCRAM-SHA-1"
        properties.authenticationData = ByteBuffer(bytes: [1, 2, 3])
        try expectKnownBytes(
            .auth(MQTTAuthPacket(reasonCode: .continueAuthentication, properties: properties)),
            bytes("f0 16 | 18 | 14 15 00 0b 53 43 52 41 4d 2d 53 48 41 2d 31 16 00 03 01 02 03"))
    }

    @Test func reAuthenticateHasItsKnownBytes() throws {
        var properties = MQTTProperties()
        properties.authenticationMethod = "m"
        properties.reasonString = "r"
        properties.userProperties = [MQTTUserProperty(name: "a", value: "b")]
        try expectKnownBytes(
            .auth(MQTTAuthPacket(reasonCode: .reAuthenticate, properties: properties)),
            bytes("f0 11 | 19 | 0f 15 00 01 6d 1f 00 01 72 26 00 01 61 00 01 62"))
    }

    static let malformed: [MalformedCase] = [
        MalformedCase("reserved flags", "f2 00", .invalidFlags, .malformedPacket),
        MalformedCase("a Reason Code without a Property Length", "f0 01 18", .truncated, .malformedPacket),
        MalformedCase("no Authentication Method", "f0 02 18 00", .missingProperty, .protocolError),
        MalformedCase("Success Reason Code for PUBACK", "f0 RL 10 04 15 00 01 6d", .invalidReasonCode, .protocolError),
        MalformedCase(
            "Session Expiry Interval", "f0 RL 18 09 15 00 01 6d 11 00 00 00 01", .propertyNotAllowed,
            .malformedPacket),
        MalformedCase(
            "Authentication Data twice", "f0 RL 18 0b 15 00 01 6d 16 00 00 16 00 01 01", .duplicateProperty,
            .protocolError),
    ]

    @Test(arguments: malformed)
    func malformedAuthsAreRefused(_ malformed: MalformedCase) {
        malformed.check()
    }

    @Test func authsThatCannotBeSentAreRefused() {
        #expect(encodeError(.auth(MQTTAuthPacket(reasonCode: .continueAuthentication)))?.code == .missingProperty)
        var properties = MQTTProperties()
        properties.authenticationMethod = "m"
        #expect(
            encodeError(.auth(MQTTAuthPacket(reasonCode: .notAuthorized, properties: properties)))?.code
                == .invalidReasonCode)
    }
}
