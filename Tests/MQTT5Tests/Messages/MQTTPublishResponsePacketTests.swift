import MQTT5
import NIOCore
import Testing

/// PUBACK, PUBREC, PUBREL and PUBCOMP share a layout and its short forms (3.4 to 3.7).
@Suite struct MQTTPublishResponsePacketTests {
    /// Builds a packet of the given type, so one test covers all four.
    struct Kind: Sendable, CustomTestStringConvertible {
        var type: MQTTPacketType
        var firstByte: UInt8
        var failure: MQTTReasonCode
        var make: @Sendable (UInt16, MQTTReasonCode, MQTTProperties) -> MQTTPacket

        var testDescription: String { type.name }
    }

    static let kinds: [Kind] = [
        Kind(type: .pubAck, firstByte: 0x40, failure: .quotaExceeded) {
            .pubAck(MQTTPubAckPacket(packetIdentifier: $0, reasonCode: $1, properties: $2))
        },
        Kind(type: .pubRec, firstByte: 0x50, failure: .notAuthorized) {
            .pubRec(MQTTPubRecPacket(packetIdentifier: $0, reasonCode: $1, properties: $2))
        },
        Kind(type: .pubRel, firstByte: 0x62, failure: .packetIdentifierNotFound) {
            .pubRel(MQTTPubRelPacket(packetIdentifier: $0, reasonCode: $1, properties: $2))
        },
        Kind(type: .pubComp, firstByte: 0x70, failure: .packetIdentifierNotFound) {
            .pubComp(MQTTPubCompPacket(packetIdentifier: $0, reasonCode: $1, properties: $2))
        },
    ]

    private func first(_ kind: Kind) -> String { String(kind.firstByte, radix: 16) }

    @Test(arguments: kinds)
    func successWithoutPropertiesIsWrittenInTwoBytes(kind: Kind) throws {
        try expectKnownBytes(kind.make(1, .success, MQTTProperties()), bytes("\(first(kind)) 02 00 01"))
    }

    @Test(arguments: kinds)
    func aReasonCodeWithoutPropertiesIsWrittenWithoutAPropertyLength(kind: Kind) throws {
        let code = String(kind.failure.rawValue, radix: 16)
        try expectKnownBytes(
            kind.make(0xABCD, kind.failure, MQTTProperties()), bytes("\(first(kind)) 03 ab cd \(code)"))
    }

    @Test(arguments: kinds)
    func theLongFormCarriesAReasonStringAndUserProperties(kind: Kind) throws {
        var properties = MQTTProperties()
        properties.reasonString = "no"
        properties.userProperties = [MQTTUserProperty(name: "a", value: "b")]
        let code = String(kind.failure.rawValue, radix: 16)
        try expectKnownBytes(
            kind.make(1, kind.failure, properties),
            bytes("\(first(kind)) 10 00 01 \(code) 0c 1f 00 02 6e 6f 26 00 01 61 00 01 62"))
        // A Success with properties needs the Reason Code byte too.
        var reasonOnly = MQTTProperties()
        reasonOnly.reasonString = "no"
        try expectKnownBytes(
            kind.make(1, .success, reasonOnly), bytes("\(first(kind)) 09 00 01 00 05 1f 00 02 6e 6f"))
    }

    @Test(arguments: kinds)
    func longerFormsOfSuccessDecodeToTheShortForm(kind: Kind) throws {
        let short = kind.make(7, .success, MQTTProperties())
        #expect(try decode(bytes("\(first(kind)) 03 00 07 00")) == short)
        #expect(try decode(bytes("\(first(kind)) 04 00 07 00 00")) == short)
        #expect(try encode(try decode(bytes("\(first(kind)) 04 00 07 00 00"))) == bytes("\(first(kind)) 02 00 07"))
    }

    @Test(arguments: kinds)
    func everyAllowedReasonCodeRoundTripsAndNoOtherDecodes(kind: Kind) throws {
        for raw in UInt8.min...UInt8.max {
            let code = MQTTReasonCode(rawValue: raw)
            let encoded = bytes("\(first(kind)) 03 00 01") + [raw]
            if code.isAllowed(in: kind.type) {
                #expect(try decode(encoded) == kind.make(1, code, MQTTProperties()))
            } else {
                let error = decodeError(encoded)
                #expect(error?.code == .invalidReasonCode)
                #expect(error?.disconnectReason == .protocolError)
                #expect(encodeError(kind.make(1, code, MQTTProperties()))?.code == .invalidReasonCode)
            }
        }
    }

    @Test(arguments: kinds)
    func malformedResponsesAreRefused(kind: Kind) {
        let f = first(kind)
        let wrongFlags = String(kind.firstByte ^ 0x01, radix: 16)
        let cases = [
            MalformedCase("fixed header flags", "\(wrongFlags) 02 00 01", .invalidFlags, .malformedPacket),
            MalformedCase("Packet Identifier 0", "\(f) 02 00 00", .invalidPacketIdentifier, .protocolError),
            MalformedCase("one byte", "\(f) 01 00", .truncated, .malformedPacket),
            MalformedCase("empty", "\(f) 00", .truncated, .malformedPacket),
            MalformedCase("Property Length past the end", "\(f) 05 00 01 00 03 1f", .truncated, .malformedPacket),
            MalformedCase("a byte after the properties", "\(f) 05 00 01 00 00 00", .trailingBytes, .malformedPacket),
            MalformedCase(
                "Session Expiry Interval", "\(f) RL 00 01 00 05 11 00 00 00 01", .propertyNotAllowed,
                .malformedPacket),
            MalformedCase(
                "Reason String twice", "\(f) RL 00 01 00 08 1f 00 01 61 1f 00 01 62", .duplicateProperty,
                .protocolError),
        ]
        for malformed in cases { malformed.check() }
    }

    @Test func pubRelRequiresItsReservedFlag() {
        MalformedCase("PUBREL with flags 0", "60 02 00 01", .invalidFlags, .malformedPacket).check()
        MalformedCase("PUBACK with flags 2", "42 02 00 01", .invalidFlags, .malformedPacket).check()
    }
}
