import NIOCore

extension MQTTPublishPacket {
    /// The bytes the whole packet takes, fixed header included, without copying the payload; throws what
    /// writing would.
    func encodedSize() throws(MQTTProtocolError) -> Int {
        var withoutPayload = self
        withoutPayload.payload = ByteBuffer()
        var scratch = ByteBuffer()
        try withoutPayload.write(into: &scratch)
        let header = try MQTTFixedHeader.peek(in: scratch)!
        let remainingLength = header.remainingLength + payload.readableBytes
        return 1 + ByteBuffer.mqttVariableByteIntegerSize(remainingLength) + remainingLength
    }
}
