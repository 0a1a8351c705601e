import NIOCore

/// UNSUBACK (3.11): the answer to an UNSUBSCRIBE.
public struct MQTTUnsubAckPacket: Hashable, Sendable {
    public var packetIdentifier: UInt16
    /// A Reason String and User Properties, at most.
    public var properties: MQTTProperties
    /// One Reason Code for each Topic Filter of the UNSUBSCRIBE, in order.
    public var reasonCodes: [MQTTReasonCode]

    public init(
        packetIdentifier: UInt16,
        reasonCodes: [MQTTReasonCode],
        properties: MQTTProperties = MQTTProperties()
    ) {
        self.packetIdentifier = packetIdentifier
        self.reasonCodes = reasonCodes
        self.properties = properties
    }

    /// Reads the packet that `fixedHeader` starts from `body`, which holds at least its Remaining Length.
    public init(fixedHeader: MQTTFixedHeader, body: inout ByteBuffer) throws(MQTTProtocolError) {
        self = try fixedHeader.readBody(from: &body, as: .unsubAck) { (body) throws(MQTTProtocolError) in
            let packetIdentifier = try body.readMQTTPacketIdentifier()
            let properties = try MQTTProperties.read(from: &body, context: .unsubAck)
            var reasonCodes: [MQTTReasonCode] = []
            while body.readableBytes > 0 {
                reasonCodes.append(MQTTReasonCode(rawValue: try body.readMQTTByte()))
            }
            let packet = MQTTUnsubAckPacket(
                packetIdentifier: packetIdentifier, reasonCodes: reasonCodes, properties: properties)
            try packet.validateReasonCodes()
            return packet
        }
    }

    private func validateReasonCodes() throws(MQTTProtocolError) {
        guard !reasonCodes.isEmpty else {
            throw MQTTProtocolError(.missingPayload, "a UNSUBACK without a Reason Code")
        }
        for code in reasonCodes { try code.validate(in: .unsubAck) }
    }

    /// Writes the whole packet, fixed header included; on error nothing is written.
    public func write(into buffer: inout ByteBuffer) throws(MQTTProtocolError) {
        try buffer.writeMQTTPacket(.unsubAck) { (body) throws(MQTTProtocolError) in
            try validateReasonCodes()
            try body.writeMQTTPacketIdentifier(packetIdentifier)
            try properties.write(into: &body, context: .unsubAck)
            for code in reasonCodes { body.writeInteger(code.rawValue) }
        }
    }
}
