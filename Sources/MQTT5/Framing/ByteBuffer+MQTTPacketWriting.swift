import NIOCore

extension ByteBuffer {
    /// Writes a whole packet: the first byte from `type` and `flags`, the Remaining Length, what `body` writes,
    /// then `trailingPayload`. On error nothing stays written and the error names the packet type.
    package mutating func writeMQTTPacket(
        _ type: MQTTPacketType,
        flags: UInt8 = 0,
        trailingPayload: ByteBuffer? = nil,
        _ body: (inout ByteBuffer) throws(MQTTProtocolError) -> Void
    ) throws(MQTTProtocolError) {
        let start = writerIndex
        do throws(MQTTProtocolError) {
            writeInteger(type.rawValue << 4 | flags)
            try writeMQTTLengthPrefixed(trailingLength: trailingPayload?.readableBytes ?? 0, body)
            if let trailingPayload { writeImmutableBuffer(trailingPayload) }
        } catch {
            moveWriterIndex(to: start)
            var error = error
            error.packetType = error.packetType ?? type
            throw error
        }
    }

    /// A Packet Identifier, which may not be 0 (2.2.1).
    package mutating func readMQTTPacketIdentifier() throws(MQTTProtocolError) -> UInt16 {
        let identifier = try readMQTTTwoByteInteger()
        guard identifier != 0 else { throw MQTTProtocolError(.invalidPacketIdentifier, "Packet Identifier 0") }
        return identifier
    }

    package mutating func writeMQTTPacketIdentifier(_ identifier: UInt16) throws(MQTTProtocolError) {
        guard identifier != 0 else { throw MQTTProtocolError(.invalidPacketIdentifier, "Packet Identifier 0") }
        writeInteger(identifier, endianness: .big)
    }
}
