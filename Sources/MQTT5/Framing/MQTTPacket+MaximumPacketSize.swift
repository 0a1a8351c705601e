import NIOCore

// Honouring the Maximum Packet Size a peer announces in CONNECT or CONNACK: "The Client MUST NOT send packets
// exceeding Maximum Packet Size to the Server" [MQTT-3.2.2-15], and the server likewise [MQTT-3.1.2-24].

extension MQTTPacket {
    /// Writes the packet if it takes at most `maximumPacketSize` bytes, fixed header included; otherwise writes
    /// nothing and throws `.packetTooLarge`.
    public func write(into buffer: inout ByteBuffer, maximumPacketSize: Int) throws(MQTTProtocolError) {
        let start = buffer.writerIndex
        try write(into: &buffer)
        let size = buffer.writerIndex - start
        guard size <= maximumPacketSize else {
            buffer.moveWriterIndex(to: start)
            throw MQTTProtocolError(
                .packetTooLarge, "\(size) bytes; the receiver accepts at most \(maximumPacketSize)", packetType: type)
        }
    }

    /// Writes the packet within `maximumPacketSize`, leaving out diagnostics where the specification allows it.
    ///
    /// In CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT and AUTH the sender "MUST NOT
    /// send" the Reason String or User Properties "if it would increase the size of the packet beyond the Maximum
    /// Packet Size". So when the whole packet is too large, it is written without its Reason String, and if that
    /// is still too large, without its User Properties as well. Other packets (a PUBLISH's User Properties belong
    /// to the message) are written whole or not at all.
    ///
    /// - Returns: The packet as written, so a caller can tell what was left out.
    /// - Throws: `.packetTooLarge` when even the smallest allowed form does not fit; nothing is written then.
    @discardableResult
    public func writeFitting(
        into buffer: inout ByteBuffer,
        maximumPacketSize: Int
    ) throws(MQTTProtocolError) -> MQTTPacket {
        do throws(MQTTProtocolError) {
            try write(into: &buffer, maximumPacketSize: maximumPacketSize)
            return self
        } catch {
            guard error.code == .packetTooLarge, type.mayOmitDiagnosticProperties, let properties else { throw error }
            var withoutReasonString = properties
            withoutReasonString.reasonString = nil
            var lastError = error
            var tried = properties
            for candidate in [withoutReasonString, properties.withoutDiagnostics] where candidate != tried {
                tried = candidate
                let smaller = replacingProperties(with: candidate)
                do throws(MQTTProtocolError) {
                    try smaller.write(into: &buffer, maximumPacketSize: maximumPacketSize)
                    return smaller
                } catch {
                    guard error.code == .packetTooLarge else { throw error }
                    lastError = error
                }
            }
            throw lastError
        }
    }
}
