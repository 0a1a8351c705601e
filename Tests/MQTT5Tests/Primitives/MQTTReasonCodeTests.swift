import MQTT5
import Testing

@Suite struct MQTTReasonCodeTests {
    @Test func everyDefinedCodeHasItsSpecName() {
        #expect(MQTTReasonCode.allDefined.count == 43)
        #expect(MQTTReasonCode.packetTooLarge.name == "Packet too large")
        #expect(MQTTReasonCode.protocolError.description == "Protocol Error (0x82)")
        #expect(MQTTReasonCode(rawValue: 0x03).name == "Unknown reason code 0x03")
        #expect(MQTTReasonCode.success.name(in: .disconnect) == "Normal disconnection")
        #expect(MQTTReasonCode.success.name(in: .subAck) == "Granted QoS 0")
        #expect(MQTTReasonCode.success.name(in: .connAck) == "Success")
        #expect(MQTTReasonCode.grantedQoS1.name(in: .subAck) == "Granted QoS 1")
        #expect(MQTTReasonCode.normalDisconnection == .success)
        #expect(!MQTTReasonCode.noMatchingSubscribers.isFailure)
        #expect(MQTTReasonCode.unspecifiedError.isFailure)
    }

    /// The per-packet tables 3-1 and 3-4 to 3-11, written out again by hand from the specification.
    static let tables: [(MQTTPacketType, [UInt8])] = [
        (
            .connAck,
            [
                0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99,
                0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
            ]
        ),
        (.pubAck, [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]),
        (.pubRec, [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]),
        (.pubRel, [0x00, 0x92]),
        (.pubComp, [0x00, 0x92]),
        (.subAck, [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2]),
        (.unsubAck, [0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91]),
        (
            .disconnect,
            [
                0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96,
                0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
            ]
        ),
        (.auth, [0x00, 0x18, 0x19]),
        (.connect, []), (.publish, []), (.subscribe, []), (.unsubscribe, []), (.pingReq, []), (.pingResp, []),
    ]

    @Test(arguments: tables)
    func eachPacketAllowsExactlyItsTable(packetType: MQTTPacketType, table: [UInt8]) {
        #expect(MQTTReasonCode.allowed(in: packetType).map(\.rawValue) == table)
        for raw in UInt8.min...UInt8.max {
            #expect(MQTTReasonCode(rawValue: raw).isAllowed(in: packetType) == table.contains(raw))
        }
    }

    @Test func everyAllowedCodeIsADefinedCode() {
        for packetType in MQTTPacketType.allCases {
            for code in MQTTReasonCode.allowed(in: packetType) {
                #expect(MQTTReasonCode.allDefined.contains(code), "\(code) in \(packetType)")
            }
        }
    }
}
