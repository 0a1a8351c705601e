import KafkaWire
import NIOCore
import Testing

/// `KafkaFrameDecoder` driven directly, as `ByteToMessageHandler` would drive it: the buffer grows as bytes
/// arrive, `decode` is called until it returns nil, and what it consumed is gone.
@Suite struct KafkaFrameDecoderTests {
    /// Frames for the latest version of every request and response sample, plus an empty frame.
    static func sampleStream() throws -> (stream: ByteBuffer, payloads: [ByteBuffer]) {
        var stream = ByteBuffer()
        var payloads: [ByteBuffer] = []
        func add(_ frame: ByteBuffer) {
            var frame = frame
            stream.writeImmutableBuffer(frame)
            frame.moveReaderIndex(forwardBy: 4)
            payloads.append(frame)
        }
        for (index, codec) in MessageCodecCase.all.enumerated() where codec.isRequest || codec.isResponse {
            add(try frame(of: codec.messageType, correlationID: Int32(index)))
            if index == 3 { add(ByteBuffer(bytes: [0x00, 0x00, 0x00, 0x00])) }
        }
        return (stream, payloads)
    }

    private static func frame<Message: SampledMessage>(
        of _: Message.Type,
        correlationID: Int32
    ) throws -> ByteBuffer {
        let version = Message.supportedVersions.upperBound
        let sample = Message.sample(version: version, nulls: false)
        var buffer = ByteBuffer()
        if let request = sample as? any KafkaRequestMessage {
            try request.writeFrame(into: &buffer, version: version, correlationID: correlationID, clientID: "t")
        } else if let response = sample as? any KafkaResponseMessage {
            try response.writeFrame(into: &buffer, version: version, correlationID: correlationID)
        }
        return buffer
    }

    /// Appends `chunk` and decodes every complete frame, checking that a nil leaves the buffer untouched.
    private func feed(
        _ chunk: ByteBuffer,
        into buffer: inout ByteBuffer,
        decoder: inout KafkaFrameDecoder,
        frames: inout [ByteBuffer]
    ) throws {
        var chunk = chunk
        buffer.writeBuffer(&chunk)
        while true {
            let before = buffer
            guard let frame = try decoder.decode(buffer: &buffer) else {
                #expect(buffer.readerIndex == before.readerIndex, "a nil must not consume anything")
                return
            }
            frames.append(frame)
        }
    }

    @Test func aStreamFedOneByteAtATimeYieldsEachFrameWholeAndOnce() throws {
        let (stream, payloads) = try Self.sampleStream()
        #expect(payloads.count > 20)
        var decoder = KafkaFrameDecoder()
        var buffer = ByteBuffer()
        var frames: [ByteBuffer] = []
        var ends: [Int] = []
        for offset in 0..<stream.readableBytes {
            let byte = stream.getSlice(at: stream.readerIndex + offset, length: 1)!
            let framesBefore = frames.count
            try feed(byte, into: &buffer, decoder: &decoder, frames: &frames)
            ends += Array(repeating: offset + 1, count: frames.count - framesBefore)
        }
        #expect(frames == payloads)
        // Each frame comes out on the byte that completes it: not earlier, not later.
        var expectedEnds: [Int] = []
        for payload in payloads { expectedEnds.append((expectedEnds.last ?? 0) + 4 + payload.readableBytes) }
        #expect(ends == expectedEnds)
        #expect(buffer.readableBytes == 0)
        #expect(try decoder.decodeLast(buffer: &buffer, seenEOF: true) == nil)
    }

    @Test func aStreamFedInRandomChunksYieldsTheSameFrames() throws {
        let (stream, payloads) = try Self.sampleStream()
        var random = SeededGenerator(seed: 0x5EED)
        for _ in 0..<50 {
            var decoder = KafkaFrameDecoder()
            var buffer = ByteBuffer()
            var frames: [ByteBuffer] = []
            var rest = stream
            while rest.readableBytes > 0 {
                let size = min(rest.readableBytes, Int.random(in: 1...300, using: &random))
                try feed(rest.readSlice(length: size)!, into: &buffer, decoder: &decoder, frames: &frames)
            }
            #expect(frames == payloads)
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func aPartialFrameAtTheEndOfTheStreamIsNotHandedOn() throws {
        var decoder = KafkaFrameDecoder()
        var buffer = ByteBuffer(bytes: [0x00, 0x00, 0x00, 0x05, 0x01, 0x02])
        #expect(try decoder.decode(buffer: &buffer) == nil)
        #expect(try decoder.decodeLast(buffer: &buffer, seenEOF: true) == nil)
        #expect(buffer.readableBytes == 6)
        var sizeOnly = ByteBuffer(bytes: [0x00, 0x00])
        #expect(try decoder.decode(buffer: &sizeOnly) == nil)
    }

    // MARK: Sizes

    private func decodeError(_ bytes: [UInt8], decoder: KafkaFrameDecoder) -> KafkaWireError? {
        var decoder = decoder
        var buffer = ByteBuffer(bytes: bytes)
        do {
            _ = try decoder.decode(buffer: &buffer)
            return nil
        } catch let error as KafkaWireError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test func aFrameAboveTheMaximumIsRefusedAsSoonAsItsSizeIsKnown() throws {
        // Only the size has arrived: the decoder does not wait for (and buffer) the body before refusing.
        #expect(
            decodeError([0x00, 0x00, 0x00, 0x11], decoder: KafkaFrameDecoder(maximumFrameSize: 16))?.code
                == .frameTooLarge)
        #expect(
            decodeError([0x7F, 0xFF, 0xFF, 0xFF], decoder: KafkaFrameDecoder(maximumFrameSize: 16))?.code
                == .frameTooLarge)
        // The default maximum is 100 MiB.
        let justOver = UInt32(100 * 1024 * 1024 + 1)
        let bytes = withUnsafeBytes(of: justOver.bigEndian) { Array($0) }
        #expect(decodeError(bytes, decoder: KafkaFrameDecoder())?.code == .frameTooLarge)
    }

    @Test func aFrameOfExactlyTheMaximumIsAccepted() throws {
        var decoder = KafkaFrameDecoder(maximumFrameSize: 16)
        var buffer = ByteBuffer(bytes: [0x00, 0x00, 0x00, 0x10] + Array(repeating: 0xAB, count: 16))
        let frame = try #require(try decoder.decode(buffer: &buffer))
        #expect(frame.readableBytes == 16)
        #expect(buffer.readableBytes == 0)
        // At the default maximum, a 100 MiB size is merely waited for.
        var large = KafkaFrameDecoder()
        var header = ByteBuffer(bytes: [0x06, 0x40, 0x00, 0x00])  // 100 MiB
        #expect(try large.decode(buffer: &header) == nil)
    }

    @Test(arguments: [[0xFF, 0xFF, 0xFF, 0xFF], [0xFF, 0xFF, 0xFF, 0xFE], [0x80, 0x00, 0x00, 0x00]] as [[UInt8]])
    func aNegativeFrameSizeIsRefused(_ size: [UInt8]) {
        #expect(decodeError(size + [0x00, 0x01], decoder: KafkaFrameDecoder(maximumFrameSize: 1024)) != nil)
    }
}
