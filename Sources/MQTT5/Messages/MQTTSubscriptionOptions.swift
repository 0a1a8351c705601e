/// The Subscription Options byte that follows each Topic Filter in a SUBSCRIBE (3.8.3.1).
public struct MQTTSubscriptionOptions: Hashable, Sendable {
    /// Whether retained messages are sent when the subscription is made (bits 4-5).
    public enum RetainHandling: UInt8, Hashable, Sendable, CaseIterable {
        /// Send retained messages at the time of the subscribe.
        case sendOnSubscribe = 0
        /// Send retained messages only if the subscription did not already exist.
        case sendOnSubscribeIfNew = 1
        /// Do not send retained messages at the time of the subscribe.
        case doNotSend = 2
    }

    /// The highest QoS the server may use for messages on this subscription (bits 0-1).
    public var maximumQoS: MQTTQoS
    /// Do not receive messages this client published itself (bit 2). Not allowed on a shared subscription.
    public var noLocal: Bool
    /// Keep the RETAIN flag messages were published with (bit 3).
    public var retainAsPublished: Bool
    public var retainHandling: RetainHandling

    public init(
        maximumQoS: MQTTQoS = .atMostOnce,
        noLocal: Bool = false,
        retainAsPublished: Bool = false,
        retainHandling: RetainHandling = .sendOnSubscribe
    ) {
        self.maximumQoS = maximumQoS
        self.noLocal = noLocal
        self.retainAsPublished = retainAsPublished
        self.retainHandling = retainHandling
    }

    /// The options byte.
    public var rawValue: UInt8 {
        maximumQoS.rawValue | (noLocal ? 0x04 : 0) | (retainAsPublished ? 0x08 : 0) | retainHandling.rawValue << 4
    }

    /// Decodes an options byte: reserved bits 6-7 set are a Malformed Packet [MQTT-3.8.3-5]; a Maximum QoS or
    /// Retain Handling of 3 is a Protocol Error.
    public init(rawValue: UInt8) throws(MQTTProtocolError) {
        guard rawValue & 0xC0 == 0 else {
            throw MQTTProtocolError(.invalidFlags, "reserved Subscription Options bits are set")
        }
        guard let qos = MQTTQoS(rawValue: rawValue & 0x03) else {
            throw MQTTProtocolError(.invalidSubscriptionOptions, "a Maximum QoS of 3")
        }
        guard let retainHandling = RetainHandling(rawValue: (rawValue >> 4) & 0x03) else {
            throw MQTTProtocolError(.invalidSubscriptionOptions, "a Retain Handling of 3")
        }
        self.init(
            maximumQoS: qos, noLocal: rawValue & 0x04 != 0, retainAsPublished: rawValue & 0x08 != 0,
            retainHandling: retainHandling)
    }
}
