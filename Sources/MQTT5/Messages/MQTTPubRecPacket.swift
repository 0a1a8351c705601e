import NIOCore

/// PUBREC (3.5): the first answer to a QoS 2 PUBLISH.
public struct MQTTPubRecPacket: Hashable, Sendable {
    public var packetIdentifier: UInt16
    /// Success, No matching subscribers, or why the message was refused.
    public var reasonCode: MQTTReasonCode
    /// A Reason String and User Properties, at most.
    public var properties: MQTTProperties

    public init(
        packetIdentifier: UInt16,
        reasonCode: MQTTReasonCode = .success,
        properties: MQTTProperties = MQTTProperties()
    ) {
        self.packetIdentifier = packetIdentifier
        self.reasonCode = reasonCode
        self.properties = properties
    }

    /// Reads the packet that `fixedHeader` starts from `body`, which holds at least its Remaining Length.
    public init(fixedHeader: MQTTFixedHeader, body: inout ByteBuffer) throws(MQTTProtocolError) {
        let fields = try MQTTPublishResponseCoding.read(
            .pubRec, context: .pubRec, fixedHeader: fixedHeader, body: &body)
        self.init(
            packetIdentifier: fields.packetIdentifier, reasonCode: fields.reasonCode, properties: fields.properties)
    }

    /// Writes the whole packet, fixed header included, in its shortest form; on error nothing is written.
    public func write(into buffer: inout ByteBuffer) throws(MQTTProtocolError) {
        try MQTTPublishResponseCoding.write(
            .pubRec, context: .pubRec, packetIdentifier: packetIdentifier, reasonCode: reasonCode,
            properties: properties, into: &buffer)
    }
}
