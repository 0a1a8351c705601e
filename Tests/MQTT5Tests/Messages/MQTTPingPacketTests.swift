import MQTT5
import NIOCore
import Testing

@Suite struct MQTTPingPacketTests {
    @Test func pingsAreTwoBytes() throws {
        try expectKnownBytes(.pingReq, bytes("c0 00"))
        try expectKnownBytes(.pingResp, bytes("d0 00"))
    }

    static let malformed: [MalformedCase] = [
        MalformedCase("PINGREQ with a body", "c0 01 00", .trailingBytes, .malformedPacket),
        MalformedCase("PINGRESP with a body", "d0 02 00 00", .trailingBytes, .malformedPacket),
        MalformedCase("PINGREQ flags", "c1 00", .invalidFlags, .malformedPacket),
        MalformedCase("PINGRESP flags", "d8 00", .invalidFlags, .malformedPacket),
        MalformedCase("packet type 0", "00 00", .invalidPacketType, .malformedPacket),
        MalformedCase("packet type 0 with flags", "0f 00", .invalidPacketType, .malformedPacket),
    ]

    @Test(arguments: malformed)
    func malformedPingsAreRefused(_ malformed: MalformedCase) {
        malformed.check()
    }
}
