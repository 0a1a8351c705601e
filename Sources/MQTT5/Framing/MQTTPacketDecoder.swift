import NIOCore

/// Splits a byte stream into MQTT packets and decodes them.
///
/// A packet is decoded only once all of it has arrived; until then `decode` returns nil and consumes nothing. A
/// packet larger than `maximumPacketSize` is refused as soon as its fixed header shows its size, before its body
/// is buffered, so a peer cannot make the receiver hold more than the limit it announced.
public struct MQTTPacketDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = MQTTPacket

    /// The largest packet the protocol can express: a one-byte header, a four-byte Remaining Length and
    /// 268,435,455 bytes.
    public static let protocolMaximumPacketSize = 1 + 4 + 268_435_455

    /// The largest packet accepted, in bytes, fixed header included: the Maximum Packet Size this side announced
    /// in its CONNECT (or CONNACK). Default: the protocol's own limit, 268,435,460 bytes, which is what not
    /// announcing one means.
    public var maximumPacketSize: Int

    public init(maximumPacketSize: Int = MQTTPacketDecoder.protocolMaximumPacketSize) {
        self.maximumPacketSize = maximumPacketSize
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> MQTTPacket? {
        guard let fixedHeader = try MQTTFixedHeader.peek(in: buffer) else { return nil }
        guard fixedHeader.packetSize <= maximumPacketSize else {
            throw MQTTProtocolError(
                .packetTooLarge,
                "\(fixedHeader.packetSize) bytes; the maximum accepted is \(maximumPacketSize)",
                packetType: fixedHeader.type)
        }
        return try MQTTPacket.read(from: &buffer)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> MQTTPacket? {
        try decode(buffer: &buffer)
    }
}
