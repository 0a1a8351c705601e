import NIOCore

/// PUBCOMP (3.7): the answer to a PUBREL, completing a QoS 2 delivery.
public struct MQTTPubCompPacket: Hashable, Sendable {
    public var packetIdentifier: UInt16
    /// Success, or Packet Identifier not found.
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
            .pubComp, context: .pubComp, fixedHeader: fixedHeader, body: &body)
        self.init(
            packetIdentifier: fields.packetIdentifier, reasonCode: fields.reasonCode, properties: fields.properties)
    }

    /// Writes the whole packet, fixed header included, in its shortest form; on error nothing is written.
    public func write(into buffer: inout ByteBuffer) throws(MQTTProtocolError) {
        try MQTTPublishResponseCoding.write(
            .pubComp, context: .pubComp, packetIdentifier: packetIdentifier, reasonCode: reasonCode,
            properties: properties, into: &buffer)
    }
}
