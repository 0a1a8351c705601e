import NIOCore

/// UNSUBSCRIBE (3.10): Topic Filters to stop receiving, answered by an UNSUBACK with one Reason Code each.
public struct MQTTUnsubscribePacket: Hashable, Sendable {
    public var packetIdentifier: UInt16
    /// User Properties, at most.
    public var properties: MQTTProperties
    /// At least one; each exactly as it was subscribed.
    public var topicFilters: [String]

    public init(packetIdentifier: UInt16, topicFilters: [String], properties: MQTTProperties = MQTTProperties()) {
        self.packetIdentifier = packetIdentifier
        self.topicFilters = topicFilters
        self.properties = properties
    }

    /// Reads the packet that `fixedHeader` starts from `body`, which holds at least its Remaining Length.
    public init(fixedHeader: MQTTFixedHeader, body: inout ByteBuffer) throws(MQTTProtocolError) {
        self = try fixedHeader.readBody(from: &body, as: .unsubscribe) { (body) throws(MQTTProtocolError) in
            let packetIdentifier = try body.readMQTTPacketIdentifier()
            let properties = try MQTTProperties.read(from: &body, context: .unsubscribe)
            var topicFilters: [String] = []
            while body.readableBytes > 0 {
                let filter = try body.readMQTTString()
                try MQTTTopic.validateFilter(filter)
                topicFilters.append(filter)
            }
            let packet = MQTTUnsubscribePacket(
                packetIdentifier: packetIdentifier, topicFilters: topicFilters, properties: properties)
            try packet.validateCount()
            return packet
        }
    }

    private func validateCount() throws(MQTTProtocolError) {
        guard !topicFilters.isEmpty else {
            throw MQTTProtocolError(.missingPayload, "an UNSUBSCRIBE without a Topic Filter")
        }
    }

    /// Writes the whole packet, fixed header included; on error nothing is written.
    public func write(into buffer: inout ByteBuffer) throws(MQTTProtocolError) {
        try buffer.writeMQTTPacket(.unsubscribe, flags: 0b0010) { (body) throws(MQTTProtocolError) in
            try validateCount()
            try body.writeMQTTPacketIdentifier(packetIdentifier)
            try properties.write(into: &body, context: .unsubscribe)
            for filter in topicFilters {
                try MQTTTopic.validateFilter(filter)
                try body.writeMQTTString(filter)
            }
        }
    }
}
