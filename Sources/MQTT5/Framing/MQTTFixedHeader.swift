import NIOCore

/// The first bytes of every packet (2.1.1): the packet type and its flags in one byte, then the Remaining Length,
/// the number of bytes that follow, as a Variable Byte Integer.
public struct MQTTFixedHeader: Hashable, Sendable {
    public var type: MQTTPacketType
    /// Bits 3-0 of the first byte.
    public var flags: UInt8
    /// The length of the variable header and payload.
    public var remainingLength: Int

    public init(type: MQTTPacketType, flags: UInt8, remainingLength: Int) {
        self.type = type
        self.flags = flags
        self.remainingLength = remainingLength
    }

    /// The bytes the fixed header itself takes: one, plus the Remaining Length's.
    public var encodedSize: Int { 1 + ByteBuffer.mqttVariableByteIntegerSize(remainingLength) }

    /// The size of the whole packet, which is what a Maximum Packet Size limits (2.1.4).
    public var packetSize: Int { encodedSize + remainingLength }

    /// Looks for a fixed header at the start of `buffer`'s readable bytes without consuming anything.
    ///
    /// Returns nil while the header is incomplete. Throws as soon as the bytes seen cannot start a valid packet:
    /// packet type 0, flags other than the type requires, or a Remaining Length that is not a valid Variable Byte
    /// Integer.
    public static func peek(in buffer: ByteBuffer) throws(MQTTProtocolError) -> MQTTFixedHeader? {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        guard let type = MQTTPacketType(rawValue: first >> 4) else {
            throw MQTTProtocolError(.invalidPacketType, "packet type 0 is reserved")
        }
        let header = MQTTFixedHeader(type: type, flags: first & 0x0F, remainingLength: 0)
        try header.validateFlags()
        switch try buffer.peekMQTTVariableByteInteger(at: buffer.readerIndex + 1) {
        case .incomplete:
            return nil
        case .complete(let remainingLength, _):
            return MQTTFixedHeader(type: type, flags: header.flags, remainingLength: remainingLength)
        }
    }

    /// Checks the flags against table 2-2: the fixed values of every type but PUBLISH, and for PUBLISH no QoS 3
    /// and no DUP on QoS 0.
    public func validateFlags() throws(MQTTProtocolError) {
        if let required = type.requiredFlags {
            guard flags == required else {
                throw MQTTProtocolError(
                    .invalidFlags, "fixed header flags \(flags), the type requires \(required)", packetType: type)
            }
            return
        }
        let qos = (flags >> 1) & 0x03
        guard qos != 3 else {
            throw MQTTProtocolError(.invalidQoS, "both QoS bits are set", packetType: type)
        }
        guard qos != 0 || flags & 0x08 == 0 else {
            throw MQTTProtocolError(.invalidFlags, "DUP is set on a QoS 0 message", packetType: type)
        }
    }

    /// Reads this packet's body from `buffer` with `read`: checks the type and flags, hands `read` exactly
    /// `remainingLength` bytes, requires it to use them all, and marks any error with the packet type. `buffer`
    /// moves past the body only on success.
    func readBody<Packet>(
        from buffer: inout ByteBuffer,
        as expectedType: MQTTPacketType,
        _ read: (inout ByteBuffer) throws(MQTTProtocolError) -> Packet
    ) throws(MQTTProtocolError) -> Packet {
        do throws(MQTTProtocolError) {
            guard type == expectedType else {
                throw MQTTProtocolError(.invalidPacketType, "a \(type) header cannot start a \(expectedType)")
            }
            try validateFlags()
            guard var body = buffer.getSlice(at: buffer.readerIndex, length: remainingLength) else {
                throw MQTTProtocolError(
                    .truncated, "Remaining Length \(remainingLength), \(buffer.readableBytes) bytes given")
            }
            let packet = try read(&body)
            guard body.readableBytes == 0 else {
                throw MQTTProtocolError(
                    .trailingBytes, "\(body.readableBytes) bytes left after the last field")
            }
            buffer.moveReaderIndex(forwardBy: remainingLength)
            return packet
        } catch {
            var error = error
            error.packetType = error.packetType ?? type
            throw error
        }
    }
}
