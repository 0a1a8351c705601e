import NIOCore

/// SUBSCRIBE (3.8): one or more subscriptions, answered by a SUBACK with one Reason Code each.
public struct MQTTSubscribePacket: Hashable, Sendable {
    public var packetIdentifier: UInt16
    /// At most one Subscription Identifier, and User Properties.
    public var properties: MQTTProperties
    /// At least one.
    public var subscriptions: [MQTTSubscription]

    public init(
        packetIdentifier: UInt16,
        subscriptions: [MQTTSubscription],
        properties: MQTTProperties = MQTTProperties()
    ) {
        self.packetIdentifier = packetIdentifier
        self.subscriptions = subscriptions
        self.properties = properties
    }

    /// Reads the packet that `fixedHeader` starts from `body`, which holds at least its Remaining Length.
    public init(fixedHeader: MQTTFixedHeader, body: inout ByteBuffer) throws(MQTTProtocolError) {
        self = try fixedHeader.readBody(from: &body, as: .subscribe) { (body) throws(MQTTProtocolError) in
            let packetIdentifier = try body.readMQTTPacketIdentifier()
            let properties = try MQTTProperties.read(from: &body, context: .subscribe)
            var subscriptions: [MQTTSubscription] = []
            while body.readableBytes > 0 {
                let filter = try body.readMQTTString()
                let subscription = MQTTSubscription(
                    topicFilter: filter, options: try MQTTSubscriptionOptions(rawValue: try body.readMQTTByte()))
                try subscription.validate()
                subscriptions.append(subscription)
            }
            let packet = MQTTSubscribePacket(
                packetIdentifier: packetIdentifier, subscriptions: subscriptions, properties: properties)
            try packet.validateCount()
            return packet
        }
    }

    private func validateCount() throws(MQTTProtocolError) {
        guard !subscriptions.isEmpty else {
            throw MQTTProtocolError(.missingPayload, "a SUBSCRIBE without a Topic Filter")
        }
    }

    /// Writes the whole packet, fixed header included; on error nothing is written.
    public func write(into buffer: inout ByteBuffer) throws(MQTTProtocolError) {
        try buffer.writeMQTTPacket(.subscribe, flags: 0b0010) { (body) throws(MQTTProtocolError) in
            try validateCount()
            try body.writeMQTTPacketIdentifier(packetIdentifier)
            try properties.write(into: &body, context: .subscribe)
            for subscription in subscriptions {
                try subscription.validate()
                try body.writeMQTTString(subscription.topicFilter)
                body.writeInteger(subscription.options.rawValue)
            }
        }
    }
}
