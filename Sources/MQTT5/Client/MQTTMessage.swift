import NIOCore

/// An Application Message the client received on one of its subscriptions.
public struct MQTTMessage: Hashable, Sendable {
    /// The Topic Name it was published to (a Topic Alias already resolved).
    public var topic: String
    public var payload: ByteBuffer
    /// The QoS it was delivered with: the lower of the publisher's and the subscription's.
    public var qos: MQTTQoS
    /// Whether it is a retained message (or, with Retain As Published, was published with RETAIN).
    public var retain: Bool
    /// Whether the server marked it as a possible re-delivery (DUP).
    public var isDuplicate: Bool
    /// The PUBLISH's properties, without the Topic Alias: user properties, content type, response topic,
    /// correlation data, message expiry, payload format, subscription identifiers.
    public var properties: MQTTProperties

    public init(
        topic: String,
        payload: ByteBuffer,
        qos: MQTTQoS = .atMostOnce,
        retain: Bool = false,
        isDuplicate: Bool = false,
        properties: MQTTProperties = MQTTProperties()
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.isDuplicate = isDuplicate
        self.properties = properties
    }

    /// Name and value pairs the publisher attached, in order.
    public var userProperties: [MQTTUserProperty] { properties.userProperties }
    /// The payload's content type, as the applications define it.
    public var contentType: String? { properties.contentType }
    /// Where a response should go (request/response).
    public var responseTopic: String? { properties.responseTopic }
    /// What ties a response to its request.
    public var correlationData: ByteBuffer? { properties.correlationData }
    /// The seconds left of the message's lifetime when the server sent it.
    public var messageExpiryInterval: UInt32? { properties.messageExpiryInterval }
    /// Whether the payload is UTF-8 text.
    public var payloadFormatIndicator: MQTTPayloadFormatIndicator? { properties.payloadFormatIndicator }
    /// The Subscription Identifiers of the subscriptions it matched, when the server supports them.
    public var subscriptionIdentifiers: [Int] { properties.subscriptionIdentifiers }
}
