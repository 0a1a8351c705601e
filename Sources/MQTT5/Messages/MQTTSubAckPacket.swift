import NIOCore

/// SUBACK (3.9): the answer to a SUBSCRIBE.
public struct MQTTSubAckPacket: Hashable, Sendable {
    public var packetIdentifier: UInt16
    /// A Reason String and User Properties, at most.
    public var properties: MQTTProperties
    /// One Reason Code for each Topic Filter of the SUBSCRIBE, in order: the QoS granted, or why the
    /// subscription failed.
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
        self = try fixedHeader.readBody(from: &body, as: .subAck) { (body) throws(MQTTProtocolError) in
            let packetIdentifier = try body.readMQTTPacketIdentifier()
            let properties = try MQTTProperties.read(from: &body, context: .subAck)
            var reasonCodes: [MQTTReasonCode] = []
            while body.readableBytes > 0 {
                reasonCodes.append(MQTTReasonCode(rawValue: try body.readMQTTByte()))
            }
            let packet = MQTTSubAckPacket(
                packetIdentifier: packetIdentifier, reasonCodes: reasonCodes, properties: properties)
            try packet.validateReasonCodes()
            return packet
        }
    }

    private func validateReasonCodes() throws(MQTTProtocolError) {
        guard !reasonCodes.isEmpty else {
            throw MQTTProtocolError(.missingPayload, "a SUBACK without a Reason Code")
        }
        for code in reasonCodes { try code.validate(in: .subAck) }
    }

    /// Writes the whole packet, fixed header included; on error nothing is written.
    public func write(into buffer: inout ByteBuffer) throws(MQTTProtocolError) {
        try buffer.writeMQTTPacket(.subAck) { (body) throws(MQTTProtocolError) in
            try validateReasonCodes()
            try body.writeMQTTPacketIdentifier(packetIdentifier)
            try properties.write(into: &body, context: .subAck)
            for code in reasonCodes { body.writeInteger(code.rawValue) }
        }
    }
}
