/// How the server acknowledged a PUBLISH: with PUBACK (QoS 1) or PUBREC then PUBCOMP (QoS 2). A QoS 0 message has no
/// acknowledgement; its result is Success once it was written to the connection.
public struct MQTTPublishResult: Hashable, Sendable {
    /// The Packet Identifier the message was last sent with; nil for QoS 0.
    public var packetIdentifier: UInt16?
    /// Success or No matching subscribers (0x10); failures are thrown as `MQTT5ClientError.publishRefused`.
    public var reasonCode: MQTTReasonCode
    /// The acknowledgement's Reason String and User Properties.
    public var properties: MQTTProperties

    public init(
        packetIdentifier: UInt16? = nil,
        reasonCode: MQTTReasonCode = .success,
        properties: MQTTProperties = MQTTProperties()
    ) {
        self.packetIdentifier = packetIdentifier
        self.reasonCode = reasonCode
        self.properties = properties
    }
}
