// Which Reason Codes each packet may carry: the per-packet tables 3-1 and 3-4 to 3-11, which the sender "MUST use
// one of". (Table 2-6 also lists 0x8C Bad authentication method for DISCONNECT, but the DISCONNECT table 3-10 does
// not; the per-packet tables are the normative lists, so 0x8C is refused in a DISCONNECT.)

extension MQTTReasonCode {
    /// Whether a packet of `packetType` may carry this code. False for packet types without a Reason Code.
    public func isAllowed(in packetType: MQTTPacketType) -> Bool {
        Self.allowedRawValues(in: packetType).contains(rawValue)
    }

    /// The codes a packet of `packetType` may carry, ascending; empty for packet types without a Reason Code.
    public static func allowed(in packetType: MQTTPacketType) -> [MQTTReasonCode] {
        allowedRawValues(in: packetType).sorted().map { MQTTReasonCode(rawValue: $0) }
    }

    /// The name this code has in a packet of `packetType`: 0x00 is "Normal disconnection" in a DISCONNECT and
    /// "Granted QoS 0" in a SUBACK, "Success" elsewhere.
    public func name(in packetType: MQTTPacketType) -> String {
        guard rawValue == 0 else { return name }
        switch packetType {
        case .disconnect: return "Normal disconnection"
        case .subAck: return "Granted QoS 0"
        default: return name
        }
    }

    private static func allowedRawValues(in packetType: MQTTPacketType) -> Set<UInt8> {
        switch packetType {
        case .connAck: connAckCodes
        case .pubAck, .pubRec: publishAcknowledgementCodes
        case .pubRel, .pubComp: [0x00, 0x92]
        case .subAck: subAckCodes
        case .unsubAck: [0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91]
        case .disconnect: disconnectCodes
        case .auth: [0x00, 0x18, 0x19]
        case .connect, .publish, .subscribe, .unsubscribe, .pingReq, .pingResp: []
        }
    }

    private static let connAckCodes: Set<UInt8> = [
        0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A,
        0x9B, 0x9C, 0x9D, 0x9F,
    ]
    private static let publishAcknowledgementCodes: Set<UInt8> = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]
    private static let subAckCodes: Set<UInt8> = [
        0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
    ]
    private static let disconnectCodes: Set<UInt8> = [
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97,
        0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
    ]

    /// Throws `.invalidReasonCode` unless a packet of `packetType` may carry this code.
    func validate(in packetType: MQTTPacketType) throws(MQTTProtocolError) {
        guard isAllowed(in: packetType) else {
            throw MQTTProtocolError(
                .invalidReasonCode, "\(description) is not a \(packetType.name) Reason Code", packetType: packetType)
        }
    }
}
