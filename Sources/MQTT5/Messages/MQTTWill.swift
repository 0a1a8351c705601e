import NIOCore

/// The Will Message of a CONNECT: what the server publishes if the connection ends without a normal DISCONNECT
/// (3.1.2.5, 3.1.3.2 to 3.1.3.4).
public struct MQTTWill: Hashable, Sendable {
    /// Where the Will Message is published. A Topic Name: no wildcards.
    public var topic: String
    public var payload: ByteBuffer
    public var qos: MQTTQoS
    public var retain: Bool
    /// The Will Properties: Will Delay Interval, the message properties of a PUBLISH, User Properties.
    public var properties: MQTTProperties

    public init(
        topic: String,
        payload: ByteBuffer,
        qos: MQTTQoS = .atMostOnce,
        retain: Bool = false,
        properties: MQTTProperties = MQTTProperties()
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
    }
}
