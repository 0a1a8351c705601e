import NIOCore

/// AUTH (3.15): a step of extended authentication, in either direction.
///
/// A Remaining Length of 0 means Success and no properties. Otherwise the packet carries a Reason Code and
/// properties, which must include the Authentication Method ("It is a Protocol Error to omit the Authentication
/// Method"). Unlike DISCONNECT there is no one-byte form: the spec lets only Success with no properties drop the
/// Property Length.
public struct MQTTAuthPacket: Hashable, Sendable {
    /// Success, Continue authentication or Re-authenticate.
    public var reasonCode: MQTTReasonCode
    /// Authentication Method and Data, Reason String, User Properties.
    public var properties: MQTTProperties

    public init(reasonCode: MQTTReasonCode = .success, properties: MQTTProperties = MQTTProperties()) {
        self.reasonCode = reasonCode
        self.properties = properties
    }

    /// Reads the packet that `fixedHeader` starts from `body`, which holds at least its Remaining Length.
    public init(fixedHeader: MQTTFixedHeader, body: inout ByteBuffer) throws(MQTTProtocolError) {
        self = try fixedHeader.readBody(from: &body, as: .auth) { (body) throws(MQTTProtocolError) in
            guard body.readableBytes > 0 else { return MQTTAuthPacket() }
            let packet = MQTTAuthPacket(
                reasonCode: MQTTReasonCode(rawValue: try body.readMQTTByte()),
                properties: try MQTTProperties.read(from: &body, context: .auth))
            try packet.validate()
            return packet
        }
    }

    private var isShortForm: Bool { reasonCode == .success && properties.isEmpty }

    private func validate() throws(MQTTProtocolError) {
        try reasonCode.validate(in: .auth)
        if !isShortForm && properties.authenticationMethod == nil {
            throw MQTTProtocolError(.missingProperty, "an AUTH without an Authentication Method")
        }
    }

    /// Writes the whole packet, fixed header included, in its shortest form; on error nothing is written.
    public func write(into buffer: inout ByteBuffer) throws(MQTTProtocolError) {
        try buffer.writeMQTTPacket(.auth) { (body) throws(MQTTProtocolError) in
            try validate()
            guard !isShortForm else { return }
            body.writeInteger(reasonCode.rawValue)
            try properties.write(into: &body, context: .auth)
        }
    }
}
