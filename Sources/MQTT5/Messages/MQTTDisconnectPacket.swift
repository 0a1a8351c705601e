import NIOCore

/// DISCONNECT (3.14): the last packet either side sends, saying why the connection is being closed.
///
/// A Remaining Length of 0 means Normal disconnection and no properties; of 1, a Reason Code and no properties.
/// Writing uses the shortest form that carries the packet.
public struct MQTTDisconnectPacket: Hashable, Sendable {
    /// One of table 3-10; 0x00 is Normal disconnection.
    public var reasonCode: MQTTReasonCode
    /// Session Expiry Interval (client only), Reason String, User Properties, Server Reference.
    public var properties: MQTTProperties

    public init(reasonCode: MQTTReasonCode = .normalDisconnection, properties: MQTTProperties = MQTTProperties()) {
        self.reasonCode = reasonCode
        self.properties = properties
    }

    /// Reads the packet that `fixedHeader` starts from `body`, which holds at least its Remaining Length.
    public init(fixedHeader: MQTTFixedHeader, body: inout ByteBuffer) throws(MQTTProtocolError) {
        self = try fixedHeader.readBody(from: &body, as: .disconnect) { (body) throws(MQTTProtocolError) in
            var packet = MQTTDisconnectPacket()
            if body.readableBytes > 0 {
                packet.reasonCode = MQTTReasonCode(rawValue: try body.readMQTTByte())
                try packet.reasonCode.validate(in: .disconnect)
            }
            if body.readableBytes > 0 {
                packet.properties = try MQTTProperties.read(from: &body, context: .disconnect)
            }
            return packet
        }
    }

    /// Writes the whole packet, fixed header included, in its shortest form; on error nothing is written.
    public func write(into buffer: inout ByteBuffer) throws(MQTTProtocolError) {
        try buffer.writeMQTTPacket(.disconnect) { (body) throws(MQTTProtocolError) in
            try reasonCode.validate(in: .disconnect)
            if properties.isEmpty {
                if reasonCode != .normalDisconnection { body.writeInteger(reasonCode.rawValue) }
            } else {
                body.writeInteger(reasonCode.rawValue)
                try properties.write(into: &body, context: .disconnect)
            }
        }
    }
}
