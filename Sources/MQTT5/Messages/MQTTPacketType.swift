/// The MQTT Control Packet type: bits 7-4 of a packet's first byte (2.1.2).
public enum MQTTPacketType: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case connect = 1
    case connAck = 2
    case publish = 3
    case pubAck = 4
    case pubRec = 5
    case pubRel = 6
    case pubComp = 7
    case subscribe = 8
    case subAck = 9
    case unsubscribe = 10
    case unsubAck = 11
    case pingReq = 12
    case pingResp = 13
    case disconnect = 14
    case auth = 15

    /// The name the specification uses, such as `PUBACK`.
    public var name: String {
        switch self {
        case .connect: "CONNECT"
        case .connAck: "CONNACK"
        case .publish: "PUBLISH"
        case .pubAck: "PUBACK"
        case .pubRec: "PUBREC"
        case .pubRel: "PUBREL"
        case .pubComp: "PUBCOMP"
        case .subscribe: "SUBSCRIBE"
        case .subAck: "SUBACK"
        case .unsubscribe: "UNSUBSCRIBE"
        case .unsubAck: "UNSUBACK"
        case .pingReq: "PINGREQ"
        case .pingResp: "PINGRESP"
        case .disconnect: "DISCONNECT"
        case .auth: "AUTH"
        }
    }

    /// The fixed header flags (bits 3-0) this type must carry, or nil for PUBLISH, whose flags are DUP, QoS and
    /// RETAIN (table 2-2).
    public var requiredFlags: UInt8? {
        switch self {
        case .publish: nil
        case .pubRel, .subscribe, .unsubscribe: 0b0010
        default: 0b0000
        }
    }

    /// Whether the spec lets a sender leave out the Reason String and User Properties of this packet when they
    /// would take it past the receiver's Maximum Packet Size ("MUST NOT send this property if it would increase
    /// the size of the packet beyond the Maximum Packet Size").
    public var mayOmitDiagnosticProperties: Bool {
        switch self {
        case .connAck, .pubAck, .pubRec, .pubRel, .pubComp, .subAck, .unsubAck, .disconnect, .auth: true
        case .connect, .publish, .subscribe, .unsubscribe, .pingReq, .pingResp: false
        }
    }

    public var description: String { name }
}
