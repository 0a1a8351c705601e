import NIOCore

/// CONNACK (3.2): the server's answer to CONNECT, with what it grants and requires for this connection.
public struct MQTTConnAckPacket: Hashable, Sendable {
    /// Whether the server resumed a session it had for this Client Identifier. Never set with a failure.
    public var sessionPresent: Bool
    /// 0x00 (Success), or why the connection is refused; one of table 3-1.
    public var reasonCode: MQTTReasonCode
    public var properties: MQTTProperties

    public init(
        sessionPresent: Bool = false,
        reasonCode: MQTTReasonCode = .success,
        properties: MQTTProperties = MQTTProperties()
    ) {
        self.sessionPresent = sessionPresent
        self.reasonCode = reasonCode
        self.properties = properties
    }

    /// Reads the packet that `fixedHeader` starts from `body`, which holds at least its Remaining Length.
    public init(fixedHeader: MQTTFixedHeader, body: inout ByteBuffer) throws(MQTTProtocolError) {
        self = try fixedHeader.readBody(from: &body, as: .connAck) { (body) throws(MQTTProtocolError) in
            let flags = try body.readMQTTByte()
            guard flags & 0xFE == 0 else {
                throw MQTTProtocolError(.invalidFlags, "reserved Connect Acknowledge Flags are set")
            }
            let packet = MQTTConnAckPacket(
                sessionPresent: flags & 0x01 != 0,
                reasonCode: MQTTReasonCode(rawValue: try body.readMQTTByte()),
                properties: try MQTTProperties.read(from: &body, context: .connAck))
            try packet.validate()
            return packet
        }
    }

    private func validate() throws(MQTTProtocolError) {
        try reasonCode.validate(in: .connAck)
        // "If a Server sends a CONNACK packet containing a non-zero Reason Code it MUST set Session Present to 0."
        if sessionPresent && reasonCode != .success {
            throw MQTTProtocolError(.inconsistentFields, "Session Present with \(reasonCode)")
        }
    }

    /// Writes the whole packet, fixed header included; on error nothing is written.
    public func write(into buffer: inout ByteBuffer) throws(MQTTProtocolError) {
        try buffer.writeMQTTPacket(.connAck) { (body) throws(MQTTProtocolError) in
            try validate()
            body.writeInteger(UInt8(sessionPresent ? 1 : 0))
            body.writeInteger(reasonCode.rawValue)
            try properties.write(into: &body, context: .connAck)
        }
    }
}
