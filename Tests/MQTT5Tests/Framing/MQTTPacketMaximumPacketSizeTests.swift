import MQTT5
import NIOCore
import Testing

@Suite struct MQTTPacketMaximumPacketSizeTests {
    @Test func aPacketWithinTheLimitIsWrittenAndOneAboveItIsNot() throws {
        let packet = MQTTPacket.publish(MQTTPublishPacket(topicName: "a/b", payload: buffer("hi")))  // 10 bytes
        var output = ByteBuffer(bytes: [0xAA])
        try packet.write(into: &output, maximumPacketSize: 10)
        #expect(output.readableBytes == 11)
        let error = #expect(throws: MQTTProtocolError.self) { try packet.write(into: &output, maximumPacketSize: 9) }
        #expect(error?.code == .packetTooLarge)
        #expect(error?.packetType == .publish)
        #expect(output.readableBytes == 11, "nothing written")
    }

    @Test func aPublishIsNeverTrimmed() {
        var properties = MQTTProperties()
        properties.userProperties = [MQTTUserProperty(name: "trace", value: String(repeating: "x", count: 100))]
        let packet = MQTTPacket.publish(
            MQTTPublishPacket(topicName: "t", payload: ByteBuffer(), properties: properties))
        var output = ByteBuffer()
        let error = #expect(throws: MQTTProtocolError.self) {
            try packet.writeFitting(into: &output, maximumPacketSize: 50)
        }
        #expect(error?.code == .packetTooLarge)
        #expect(output.readableBytes == 0)
    }

    @Test func anAcknowledgementDropsItsReasonStringFirstThenItsUserProperties() throws {
        var properties = MQTTProperties()
        properties.reasonString = String(repeating: "r", count: 40)
        properties.userProperties = [MQTTUserProperty(name: "k", value: "v")]
        let packet = MQTTPacket.pubAck(
            MQTTPubAckPacket(packetIdentifier: 1, reasonCode: .quotaExceeded, properties: properties))
        #expect(try encode(packet).count == 56)

        var output = ByteBuffer()
        #expect(try packet.writeFitting(into: &output, maximumPacketSize: 56) == packet)
        #expect(output.readableBytes == 56)

        // Without the Reason String: 2 + 2 + 1 + 1 + 7 = 13 bytes.
        output.clear()
        var withoutReason = properties
        withoutReason.reasonString = nil
        let trimmed = MQTTPacket.pubAck(
            MQTTPubAckPacket(packetIdentifier: 1, reasonCode: .quotaExceeded, properties: withoutReason))
        #expect(try packet.writeFitting(into: &output, maximumPacketSize: 55) == trimmed)
        #expect(Array(output.readableBytesView) == (try encode(trimmed)))
        #expect(output.readableBytes == 13)

        // Without either: the three-byte-body short form, 5 bytes.
        output.clear()
        let bare = MQTTPacket.pubAck(MQTTPubAckPacket(packetIdentifier: 1, reasonCode: .quotaExceeded))
        #expect(try packet.writeFitting(into: &output, maximumPacketSize: 12) == bare)
        #expect(output.readableBytes == 5)

        // Nothing smaller exists.
        output.clear()
        let error = #expect(throws: MQTTProtocolError.self) {
            try packet.writeFitting(into: &output, maximumPacketSize: 4)
        }
        #expect(error?.code == .packetTooLarge)
        #expect(output.readableBytes == 0)
    }

    @Test func everyTypeTheSpecAllowsDropsDiagnostics() throws {
        let trimmable: Set<MQTTPacketType> = [
            .connAck, .pubAck, .pubRec, .pubRel, .pubComp, .subAck, .unsubAck, .disconnect, .auth,
        ]
        for type in MQTTPacketType.allCases {
            #expect(type.mayOmitDiagnosticProperties == trimmable.contains(type), "\(type)")
        }
        for packet in Samples.fullPackets where trimmable.contains(packet.type) {
            let full = try encode(packet)
            let trimmed = packet.replacingProperties(with: packet.properties!.withoutDiagnostics)
            var output = ByteBuffer()
            let written = try packet.writeFitting(into: &output, maximumPacketSize: try encode(trimmed).count)
            #expect(written == trimmed, "\(packet.type)")
            #expect(output.readableBytes < full.count)
        }
    }

    @Test func otherErrorsAreNotMistakenForSize() {
        var properties = MQTTProperties()
        properties.reasonString = "r"
        properties.topicAlias = 1  // not allowed in PUBACK
        let packet = MQTTPacket.pubAck(MQTTPubAckPacket(packetIdentifier: 1, properties: properties))
        var output = ByteBuffer()
        let error = #expect(throws: MQTTProtocolError.self) {
            try packet.writeFitting(into: &output, maximumPacketSize: 1000)
        }
        #expect(error?.code == .propertyNotAllowed)
    }
}
