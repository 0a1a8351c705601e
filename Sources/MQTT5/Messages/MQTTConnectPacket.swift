import NIOCore

/// CONNECT (3.1): the first packet a client sends, naming itself and its session, with an optional Will Message
/// and credentials.
public struct MQTTConnectPacket: Hashable, Sendable {
    /// The Protocol Name every MQTT CONNECT carries.
    public static let protocolName = "MQTT"
    /// The Protocol Version of MQTT 5.0.
    public static let protocolVersion: UInt8 = 5

    /// The Client Identifier; empty asks the server to assign one.
    public var clientIdentifier: String
    /// Whether to discard any existing session and start a new one.
    public var cleanStart: Bool
    /// Seconds the client may stay silent before it must send a PINGREQ; 0 turns Keep Alive off.
    public var keepAlive: UInt16
    public var properties: MQTTProperties
    public var will: MQTTWill?
    public var userName: String?
    /// Credentials of any kind; MQTT 5.0 allows a password without a user name.
    public var password: ByteBuffer?

    public init(
        clientIdentifier: String,
        cleanStart: Bool = true,
        keepAlive: UInt16 = 60,
        properties: MQTTProperties = MQTTProperties(),
        will: MQTTWill? = nil,
        userName: String? = nil,
        password: ByteBuffer? = nil
    ) {
        self.clientIdentifier = clientIdentifier
        self.cleanStart = cleanStart
        self.keepAlive = keepAlive
        self.properties = properties
        self.will = will
        self.userName = userName
        self.password = password
    }

    private enum Flag {
        static let userName: UInt8 = 0x80
        static let password: UInt8 = 0x40
        static let willRetain: UInt8 = 0x20
        static let will: UInt8 = 0x04
        static let cleanStart: UInt8 = 0x02
        static let reserved: UInt8 = 0x01
    }

    /// Reads the packet that `fixedHeader` starts from `body`, which holds at least its Remaining Length.
    public init(fixedHeader: MQTTFixedHeader, body: inout ByteBuffer) throws(MQTTProtocolError) {
        self = try fixedHeader.readBody(from: &body, as: .connect) { (body) throws(MQTTProtocolError) in
            try Self.readFields(from: &body)
        }
    }

    private static func readFields(from body: inout ByteBuffer) throws(MQTTProtocolError) -> MQTTConnectPacket {
        let nameLength = Int(try body.readMQTTTwoByteInteger())
        guard let name = body.readSlice(length: nameLength) else {
            throw MQTTProtocolError(.truncated, "Protocol Name of \(nameLength) bytes, \(body.readableBytes) left")
        }
        guard name.readableBytesView.elementsEqual(protocolName.utf8) else {
            throw MQTTProtocolError(.unsupportedProtocolVersion, "the Protocol Name is not MQTT")
        }
        let version = try body.readMQTTByte()
        guard version == protocolVersion else {
            throw MQTTProtocolError(.unsupportedProtocolVersion, "Protocol Version \(version); this is version 5")
        }
        let flags = try body.readMQTTByte()
        guard flags & Flag.reserved == 0 else {
            throw MQTTProtocolError(.invalidFlags, "the reserved Connect Flag is set")
        }
        let willQoSBits = (flags >> 3) & 0x03
        let hasWill = flags & Flag.will != 0
        if hasWill {
            guard willQoSBits != 3 else { throw MQTTProtocolError(.invalidQoS, "Will QoS 3") }
        } else {
            guard willQoSBits == 0 && flags & Flag.willRetain == 0 else {
                throw MQTTProtocolError(.invalidFlags, "Will QoS or Will Retain set without the Will Flag")
            }
        }
        let keepAlive = try body.readMQTTTwoByteInteger()
        let properties = try MQTTProperties.read(from: &body, context: .connect)
        try validateAuthentication(properties)
        let clientIdentifier = try body.readMQTTString()
        var will: MQTTWill?
        if hasWill {
            let willProperties = try MQTTProperties.read(from: &body, context: .will)
            let topic = try body.readMQTTString()
            try MQTTTopic.validateName(topic)
            let payload = try body.readMQTTBinary()
            will = MQTTWill(
                topic: topic, payload: payload, qos: MQTTQoS(rawValue: willQoSBits)!,
                retain: flags & Flag.willRetain != 0, properties: willProperties)
        }
        let userName: String? = if flags & Flag.userName != 0 { try body.readMQTTString() } else { nil }
        let password: ByteBuffer? = if flags & Flag.password != 0 { try body.readMQTTBinary() } else { nil }
        return MQTTConnectPacket(
            clientIdentifier: clientIdentifier, cleanStart: flags & Flag.cleanStart != 0, keepAlive: keepAlive,
            properties: properties, will: will, userName: userName, password: password)
    }

    /// "It is a Protocol Error to include Authentication Data if there is no Authentication Method" (3.1.2.11.10).
    private static func validateAuthentication(_ properties: MQTTProperties) throws(MQTTProtocolError) {
        if properties.authenticationData != nil && properties.authenticationMethod == nil {
            throw MQTTProtocolError(.missingProperty, "Authentication Data without an Authentication Method")
        }
    }

    /// Writes the whole packet, fixed header included; on error nothing is written.
    public func write(into buffer: inout ByteBuffer) throws(MQTTProtocolError) {
        try buffer.writeMQTTPacket(.connect) { (body) throws(MQTTProtocolError) in
            try body.writeMQTTString(Self.protocolName)
            body.writeInteger(Self.protocolVersion)
            var flags: UInt8 = 0
            if userName != nil { flags |= Flag.userName }
            if password != nil { flags |= Flag.password }
            if cleanStart { flags |= Flag.cleanStart }
            if let will {
                flags |= Flag.will | will.qos.rawValue << 3
                if will.retain { flags |= Flag.willRetain }
            }
            body.writeInteger(flags)
            body.writeInteger(keepAlive, endianness: .big)
            try Self.validateAuthentication(properties)
            try properties.write(into: &body, context: .connect)
            try body.writeMQTTString(clientIdentifier)
            if let will {
                try will.properties.write(into: &body, context: .will)
                try MQTTTopic.validateName(will.topic)
                try body.writeMQTTString(will.topic)
                try body.writeMQTTBinary(will.payload)
            }
            if let userName { try body.writeMQTTString(userName) }
            if let password { try body.writeMQTTBinary(password) }
        }
    }
}
