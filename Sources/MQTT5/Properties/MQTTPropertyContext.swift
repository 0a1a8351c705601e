/// A place properties appear: the property section of a packet, or the Will Properties in a CONNECT payload.
public enum MQTTPropertyContext: Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case connect
    case connAck
    case publish
    /// The Will Properties in a CONNECT payload (3.1.3.2).
    case will
    case pubAck
    case pubRec
    case pubRel
    case pubComp
    case subscribe
    case subAck
    case unsubscribe
    case unsubAck
    case disconnect
    case auth

    /// The packet type whose property section this is; the Will Properties belong to a CONNECT.
    public var packetType: MQTTPacketType {
        switch self {
        case .connect, .will: .connect
        case .connAck: .connAck
        case .publish: .publish
        case .pubAck: .pubAck
        case .pubRec: .pubRec
        case .pubRel: .pubRel
        case .pubComp: .pubComp
        case .subscribe: .subscribe
        case .subAck: .subAck
        case .unsubscribe: .unsubscribe
        case .unsubAck: .unsubAck
        case .disconnect: .disconnect
        case .auth: .auth
        }
    }

    public var description: String { self == .will ? "Will Properties" : packetType.name }
}
