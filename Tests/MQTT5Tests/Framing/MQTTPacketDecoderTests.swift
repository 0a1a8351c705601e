import MQTT5
import NIOCore
import Testing

/// `MQTTPacketDecoder` driven directly, as `ByteToMessageHandler` would drive it: the buffer grows as bytes
/// arrive, `decode` is called until it returns nil, and what it consumed is gone.
@Suite struct MQTTPacketDecoderTests {
    static func sampleStream() throws -> (stream: ByteBuffer, packets: [MQTTPacket], ends: [Int]) {
        var stream = ByteBuffer()
        var ends: [Int] = []
        for packet in Samples.allPackets {
            try packet.write(into: &stream)
            ends.append(stream.readableBytes)
        }
        return (stream, Samples.allPackets, ends)
    }

    /// Appends `chunk` and decodes every complete packet, checking that a nil leaves the buffer untouched.
    private func feed(
        _ chunk: ByteBuffer,
        into buffer: inout ByteBuffer,
        decoder: inout MQTTPacketDecoder,
        packets: inout [MQTTPacket]
    ) throws {
        var chunk = chunk
        buffer.writeBuffer(&chunk)
        while true {
            let before = buffer
            guard let packet = try decoder.decode(buffer: &buffer) else {
                #expect(buffer.readerIndex == before.readerIndex, "a nil must not consume anything")
                return
            }
            packets.append(packet)
        }
    }

    @Test func aStreamFedOneByteAtATimeYieldsEachPacketWholeAndOnce() throws {
        let (stream, expected, expectedEnds) = try Self.sampleStream()
        var decoder = MQTTPacketDecoder()
        var buffer = ByteBuffer()
        var packets: [MQTTPacket] = []
        var ends: [Int] = []
        for offset in 0..<stream.readableBytes {
            let byte = stream.getSlice(at: stream.readerIndex + offset, length: 1)!
            let before = packets.count
            try feed(byte, into: &buffer, decoder: &decoder, packets: &packets)
            ends += Array(repeating: offset + 1, count: packets.count - before)
        }
        #expect(packets == expected)
        // Each packet comes out on the byte that completes it: not earlier, not later.
        #expect(ends == expectedEnds)
        #expect(buffer.readableBytes == 0)
        #expect(try decoder.decodeLast(buffer: &buffer, seenEOF: true) == nil)
    }

    @Test func manyPacketsInOneBufferAllComeOut() throws {
        let (stream, expected, _) = try Self.sampleStream()
        var decoder = MQTTPacketDecoder()
        var buffer = ByteBuffer()
        var packets: [MQTTPacket] = []
        try feed(stream, into: &buffer, decoder: &decoder, packets: &packets)
        #expect(packets == expected)
        #expect(buffer.readableBytes == 0)
    }

    @Test func aStreamFedInRandomChunksYieldsTheSamePackets() throws {
        let (stream, expected, _) = try Self.sampleStream()
        var random = SeededGenerator(seed: 0x4D51_5454)
        for _ in 0..<30 {
            var decoder = MQTTPacketDecoder()
            var buffer = ByteBuffer()
            var packets: [MQTTPacket] = []
            var rest = stream
            while rest.readableBytes > 0 {
                let size = min(rest.readableBytes, Int.random(in: 1...700, using: &random))
                try feed(rest.readSlice(length: size)!, into: &buffer, decoder: &decoder, packets: &packets)
            }
            #expect(packets == expected)
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func aPartialPacketAtTheEndOfTheStreamIsNotHandedOn() throws {
        var decoder = MQTTPacketDecoder()
        var buffer = ByteBuffer(bytes: bytes("30 08 00 03 61 2f 62"))
        #expect(try decoder.decode(buffer: &buffer) == nil)
        #expect(try decoder.decodeLast(buffer: &buffer, seenEOF: true) == nil)
        #expect(buffer.readableBytes == 7)
        // A Remaining Length still arriving is waited for too.
        var header = ByteBuffer(bytes: [0x30, 0x80, 0x80])
        #expect(try decoder.decode(buffer: &header) == nil)
        var empty = ByteBuffer()
        #expect(try decoder.decode(buffer: &empty) == nil)
    }

    // MARK: Maximum Packet Size

    private func decodeError(_ bytes: [UInt8], maximumPacketSize: Int) -> MQTTProtocolError? {
        var decoder = MQTTPacketDecoder(maximumPacketSize: maximumPacketSize)
        var buffer = ByteBuffer(bytes: bytes)
        do {
            _ = try decoder.decode(buffer: &buffer)
            return nil
        } catch {
            return error as? MQTTProtocolError
        }
    }

    @Test func aPacketAboveTheMaximumIsRefusedAsSoonAsItsSizeIsKnown() {
        // Only the fixed header has arrived: the decoder does not wait for (and buffer) the body before refusing.
        let error = decodeError([0x30, 0x0F], maximumPacketSize: 16)
        #expect(error?.code == .packetTooLarge)
        #expect(error?.disconnectReason == .packetTooLarge)
        #expect(error?.packetType == .publish)
        #expect(decodeError([0x30, 0xFF, 0xFF, 0xFF, 0x7F], maximumPacketSize: 1 << 20)?.code == .packetTooLarge)
        // The size compared is the whole packet's, fixed header included: 2 + 14 = 16 fits, 2 + 15 does not.
        #expect(decodeError([0x30, 0x0E], maximumPacketSize: 16) == nil)
    }

    @Test func aPacketOfExactlyTheMaximumIsAccepted() throws {
        var decoder = MQTTPacketDecoder(maximumPacketSize: 10)
        var input = ByteBuffer(bytes: bytes("30 08 00 03 61 2f 62 00 68 69"))
        #expect(
            try decoder.decode(buffer: &input) == .publish(MQTTPublishPacket(topicName: "a/b", payload: buffer("hi"))))
        // The default is the largest packet the protocol can express, so such a header is merely waited for.
        var large = MQTTPacketDecoder()
        #expect(large.maximumPacketSize == 268_435_460)
        var header = ByteBuffer(bytes: [0x30, 0xFF, 0xFF, 0xFF, 0x7F])
        #expect(try large.decode(buffer: &header) == nil)
    }

    @Test func badBytesAreRefusedBeforeTheRestArrives() {
        // Reserved flags, packet type 0, a fifth Remaining Length byte, QoS 3: each known from the first bytes.
        #expect(decodeError([0x61], maximumPacketSize: 100)?.code == .invalidFlags)
        #expect(decodeError([0x00], maximumPacketSize: 100)?.code == .invalidPacketType)
        #expect(
            decodeError([0x30, 0xFF, 0xFF, 0xFF, 0xFF], maximumPacketSize: 100)?.code == .invalidVariableByteInteger)
        #expect(decodeError([0x36], maximumPacketSize: 100)?.code == .invalidQoS)
        #expect(decodeError([0x30, 0x80, 0x00], maximumPacketSize: 100)?.code == .invalidVariableByteInteger)
    }
}
