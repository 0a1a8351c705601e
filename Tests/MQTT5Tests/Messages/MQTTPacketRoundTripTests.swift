import MQTT5
import NIOCore
import Testing

@Suite struct MQTTPacketRoundTripTests {
    @Test func everyPacketTypeIsSampled() {
        #expect(Set(Samples.fullPackets.map(\.type)) == Set(MQTTPacketType.allCases))
        for packet in Samples.fullPackets {
            guard let properties = packet.properties else { continue }
            let allowed = MQTTPropertyIdentifier.allCases.filter {
                $0.allowedContexts.contains { $0.packetType == packet.type && $0 != .will }
            }
            #expect(properties.presentIdentifiers == allowed, "\(packet.type) carries every property it allows")
        }
    }

    @Test(arguments: Samples.allPackets)
    func everyPacketRoundTripsToTheSameValueAndBytes(packet: MQTTPacket) throws {
        let encoded = try encode(packet)
        let decoded = try decode(encoded)
        #expect(decoded == packet)
        #expect(try encode(decoded) == encoded)
        // The fixed header's Remaining Length counts exactly the bytes after it.
        let header = try #require(try MQTTFixedHeader.peek(in: ByteBuffer(bytes: encoded)))
        #expect(header.packetSize == encoded.count)
        #expect(header.type == packet.type)
    }

    @Test(arguments: Samples.allPackets)
    func readingFromAFixedHeaderAndBodyMatchesReadingTheStream(packet: MQTTPacket) throws {
        var stream = ByteBuffer(bytes: try encode(packet))
        stream.writeBytes([0xC0, 0x00])  // a PINGREQ follows
        let header = try #require(try MQTTFixedHeader.peek(in: stream))
        stream.moveReaderIndex(forwardBy: header.encodedSize)
        #expect(try MQTTPacket(fixedHeader: header, body: &stream) == packet)
        #expect(Array(stream.readableBytesView) == [0xC0, 0x00], "the body, and only the body, is consumed")
    }

    @Test func aFailedWriteLeavesTheBufferAsItWas() {
        for packet in Samples.allPackets {
            guard var properties = packet.properties else { continue }
            properties.willDelayInterval = 1  // allowed in no packet, only in Will Properties
            if packet.type == .auth { properties.authenticationMethod = "m" }  // or the AUTH misses its method first
            let error = encodeError(packet.replacingProperties(with: properties))
            #expect(error?.code == .propertyNotAllowed)
            #expect(error?.packetType == packet.type)
        }
    }
}
