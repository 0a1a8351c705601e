import NIOCore

extension MQTTPublishPacket {
    /// The bytes the whole packet takes, fixed header included, without copying the payload; throws what
    /// writing would.
    func encodedSize() throws(MQTTProtocolError) -> Int {
        if properties.isEmptyExceptTopicAlias, let topicLength = validatedTopicNameLength() {
            // The common case, computed: Topic Name, Packet Identifier, properties (none, or a Topic Alias).
            let propertiesLength = properties.topicAlias == nil ? 1 : 4
            let remainingLength =
                2 + topicLength + (qos == .atMostOnce ? 0 : 2) + propertiesLength + payload.readableBytes
            if remainingLength <= ByteBuffer.mqttMaximumVariableByteInteger {
                return 1 + ByteBuffer.mqttVariableByteIntegerSize(remainingLength) + remainingLength
            }
        }
        var withoutPayload = self
        withoutPayload.payload = ByteBuffer()
        var scratch = ByteBuffer()
        try withoutPayload.write(into: &scratch)
        let header = try MQTTFixedHeader.peek(in: scratch)!
        let remainingLength = header.remainingLength + payload.readableBytes
        return 1 + ByteBuffer.mqttVariableByteIntegerSize(remainingLength) + remainingLength
    }

    /// The Topic Name's length in bytes when the packet has a valid Topic Name, Packet Identifier, DUP and Topic
    /// Alias, so that writing it cannot fail for these; nil otherwise (writing it tells what is wrong).
    private func validatedTopicNameLength() -> Int? {
        guard (qos == .atMostOnce) == (packetIdentifier == nil), packetIdentifier != 0,
            !(dup && qos == .atMostOnce), properties.topicAlias != 0
        else { return nil }
        if topicName.isEmpty { return properties.topicAlias == nil ? nil : 0 }
        guard MQTTTopic.isValidName(topicName) else { return nil }
        return topicName.utf8.count
    }
}
