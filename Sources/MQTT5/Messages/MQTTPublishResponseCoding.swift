import NIOCore

/// The layout PUBACK, PUBREC, PUBREL and PUBCOMP share (3.4 to 3.7): a Packet Identifier, a Reason Code and
/// properties, with two short forms. A Remaining Length of 2 means Success and no properties; of 3, a Reason
/// Code and no properties ("If the Remaining Length is less than 4 there is no Property Length"). Writing uses the
/// shortest form that carries the packet.
enum MQTTPublishResponseCoding {
    static func read(
        _ type: MQTTPacketType,
        context: MQTTPropertyContext,
        fixedHeader: MQTTFixedHeader,
        body: inout ByteBuffer
    ) throws(MQTTProtocolError) -> (packetIdentifier: UInt16, reasonCode: MQTTReasonCode, properties: MQTTProperties) {
        try fixedHeader.readBody(from: &body, as: type) { (body) throws(MQTTProtocolError) in
            let packetIdentifier = try body.readMQTTPacketIdentifier()
            var reasonCode = MQTTReasonCode.success
            var properties = MQTTProperties()
            if body.readableBytes > 0 {
                reasonCode = MQTTReasonCode(rawValue: try body.readMQTTByte())
                try reasonCode.validate(in: type)
            }
            if body.readableBytes > 0 {
                properties = try MQTTProperties.read(from: &body, context: context)
            }
            return (packetIdentifier, reasonCode, properties)
        }
    }

    static func write(
        _ type: MQTTPacketType,
        context: MQTTPropertyContext,
        packetIdentifier: UInt16,
        reasonCode: MQTTReasonCode,
        properties: MQTTProperties,
        into buffer: inout ByteBuffer
    ) throws(MQTTProtocolError) {
        try buffer.writeMQTTPacket(type, flags: type.requiredFlags ?? 0) { (body) throws(MQTTProtocolError) in
            try body.writeMQTTPacketIdentifier(packetIdentifier)
            try reasonCode.validate(in: type)
            if properties.isEmpty {
                if reasonCode != .success { body.writeInteger(reasonCode.rawValue) }
            } else {
                body.writeInteger(reasonCode.rawValue)
                try properties.write(into: &body, context: context)
            }
        }
    }
}
