import NIOCore

/// PUBLISH (3.3): an Application Message, in either direction.
public struct MQTTPublishPacket: Hashable, Sendable {
    /// The Topic Name; empty only when `properties.topicAlias` stands for it.
    public var topicName: String
    public var payload: ByteBuffer
    public var qos: MQTTQoS
    /// Whether the message is (to be) retained.
    public var retain: Bool
    /// DUP: this may be a re-delivery of an earlier attempt. Never set on QoS 0.
    public var dup: Bool
    /// Present, and not 0, exactly when `qos` is 1 or 2.
    public var packetIdentifier: UInt16?
    public var properties: MQTTProperties

    public init(
        topicName: String,
        payload: ByteBuffer,
        qos: MQTTQoS = .atMostOnce,
        retain: Bool = false,
        dup: Bool = false,
        packetIdentifier: UInt16? = nil,
        properties: MQTTProperties = MQTTProperties()
    ) {
        self.topicName = topicName
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.dup = dup
        self.packetIdentifier = packetIdentifier
        self.properties = properties
    }

    /// The fixed header flags: DUP (bit 3), QoS (bits 2-1), RETAIN (bit 0).
    public var fixedHeaderFlags: UInt8 {
        (dup ? 0x08 : 0) | qos.rawValue << 1 | (retain ? 0x01 : 0)
    }

    /// Reads the packet that `fixedHeader` starts from `body`, which holds at least its Remaining Length.
    public init(fixedHeader: MQTTFixedHeader, body: inout ByteBuffer) throws(MQTTProtocolError) {
        self = try fixedHeader.readBody(from: &body, as: .publish) { (body) throws(MQTTProtocolError) in
            let flags = fixedHeader.flags
            // `readBody` has refused QoS 3 and DUP on QoS 0.
            let qos = MQTTQoS(rawValue: (flags >> 1) & 0x03)!
            let topicName = try body.readMQTTString()
            let packetIdentifier: UInt16? = if qos == .atMostOnce { nil } else { try body.readMQTTPacketIdentifier() }
            let properties = try MQTTProperties.read(from: &body, context: .publish)
            let packet = MQTTPublishPacket(
                topicName: topicName, payload: body.readSlice(length: body.readableBytes)!, qos: qos,
                retain: flags & 0x01 != 0, dup: flags & 0x08 != 0, packetIdentifier: packetIdentifier,
                properties: properties)
            try packet.validateTopicName()
            return packet
        }
    }

    private func validateTopicName() throws(MQTTProtocolError) {
        if topicName.isEmpty {
            // "It is a Protocol Error if the Topic Name is zero length and there is no Topic Alias."
            guard properties.topicAlias != nil else {
                throw MQTTProtocolError(.missingTopicName, "an empty Topic Name without a Topic Alias")
            }
        } else {
            try MQTTTopic.validateName(topicName)
        }
    }

    /// Writes the whole packet, fixed header included; on error nothing is written. The payload is appended as
    /// it is, never copied twice.
    public func write(into buffer: inout ByteBuffer) throws(MQTTProtocolError) {
        try buffer.writeMQTTPacket(.publish, flags: fixedHeaderFlags, trailingPayload: payload) {
            (body) throws(MQTTProtocolError) in
            try validateTopicName()
            if dup && qos == .atMostOnce {
                throw MQTTProtocolError(.invalidFlags, "DUP is set on a QoS 0 message")
            }
            try body.writeMQTTString(topicName)
            switch (qos, packetIdentifier) {
            case (.atMostOnce, nil): break
            case (.atMostOnce, .some):
                throw MQTTProtocolError(.invalidPacketIdentifier, "a Packet Identifier on a QoS 0 message")
            case (_, nil):
                throw MQTTProtocolError(.invalidPacketIdentifier, "no Packet Identifier on a \(qos) message")
            case (_, .some(let identifier)):
                try body.writeMQTTPacketIdentifier(identifier)
            }
            try properties.write(into: &body, context: .publish)
        }
    }
}
