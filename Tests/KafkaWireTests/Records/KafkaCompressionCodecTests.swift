import NIOCore
import Testing

@testable import KafkaWire

@Suite struct KafkaCompressionCodecTests {
    static let compressedCodecs: [KafkaCompressionCodec] = [.gzip, .snappy, .lz4, .zstd]

    /// Inputs that cross the codecs' block sizes (snappy 32 KiB, lz4 64 KiB) and include incompressible data.
    static func inputs() -> [ByteBuffer] {
        var generator = SplitMix64(seed: 3)
        let random = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let text = String(repeating: "the quick brown fox jumps over the lazy dog ", count: 5000)
        return [
            ByteBuffer(), ByteBuffer(bytes: [42]), ByteBuffer(string: text), ByteBuffer(bytes: random),
            ByteBuffer(repeating: 0, count: 200_000),
        ]
    }

    /// Runs `body` when the codec's library loads here; otherwise checks that using it fails with the clear error
    /// that names the library. libsnappy in particular may be missing on a developer's machine.
    func withAvailable(_ codec: KafkaCompressionCodec, _ body: () throws -> Void) throws {
        if codec.isAvailable {
            try body()
            return
        }
        var output = ByteBuffer()
        let error = #expect(throws: KafkaWireError.self) {
            try codec.compress(ByteBuffer(string: "x"), into: &output)
        }
        #expect(error?.code == .unsupportedCompression)
        #expect(error?.detail.contains("lib\(codec.name)") == true)
    }

    @Test func linkedAndSystemCodecsLoadHere() {
        // gzip is linked in; liblz4 and libzstd are on every machine this project builds on.
        #expect(KafkaCompressionCodec.none.isAvailable)
        #expect(KafkaCompressionCodec.gzip.isAvailable)
        #expect(KafkaCompressionCodec.lz4.isAvailable)
        #expect(KafkaCompressionCodec.zstd.isAvailable)
    }

    @Test(arguments: KafkaCompressionCodec.allCases)
    func roundTrips(codec: KafkaCompressionCodec) throws {
        try withAvailable(codec) {
            for input in Self.inputs() {
                var compressed = ByteBuffer()
                try codec.compress(input, into: &compressed)
                let output = try codec.decompress(compressed)
                #expect(output == input, "\(codec) round trip of \(input.readableBytes) bytes")
            }
        }
    }

    @Test func compressAppendsAfterExistingBytes() throws {
        for codec in Self.compressedCodecs where codec.isAvailable {
            var buffer = ByteBuffer(string: "prefix")
            try codec.compress(ByteBuffer(string: "hello hello hello"), into: &buffer)
            #expect(buffer.readString(length: 6) == "prefix")
            #expect(try codec.decompress(buffer) == ByteBuffer(string: "hello hello hello"))
        }
    }

    @Test func framingIsWhatKafkaClientsExpect() throws {
        let input = ByteBuffer(string: "framing")
        var gzip = ByteBuffer()
        try KafkaCompressionCodec.gzip.compress(input, into: &gzip)
        #expect(gzip.getBytes(at: 0, length: 2) == [0x1F, 0x8B])

        var zstd = ByteBuffer()
        try KafkaCompressionCodec.zstd.compress(input, into: &zstd)
        #expect(zstd.getBytes(at: 0, length: 4) == [0x28, 0xB5, 0x2F, 0xFD])

        // LZ4 frame magic 0x184D2204 (little-endian), then FLG: version 01, independent blocks (bit 5), no
        // checksums, no content size = 0x60; BD: 64 KiB blocks = 0x40. The Java consumer needs independent blocks.
        var lz4 = ByteBuffer()
        try KafkaCompressionCodec.lz4.compress(input, into: &lz4)
        #expect(lz4.getBytes(at: 0, length: 6) == [0x04, 0x22, 0x4D, 0x18, 0x60, 0x40])

        try withAvailable(.snappy) {
            // xerial: magic, version 1, compatible version 1, then length-prefixed blocks of 32 KiB at most.
            var snappy = ByteBuffer()
            try KafkaCompressionCodec.snappy.compress(ByteBuffer(repeating: 7, count: 70_000), into: &snappy)
            #expect(snappy.readBytes(length: 8) == [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00])
            #expect(snappy.readInteger(as: Int32.self) == 1)
            #expect(snappy.readInteger(as: Int32.self) == 1)
            var blocks = 0
            while let length = snappy.readInteger(as: Int32.self) {
                #expect(snappy.readSlice(length: Int(length)) != nil)
                blocks += 1
            }
            #expect(blocks == 3)
        }
    }

    @Test func snappyReadsARawBlockAndXerialFramingBuiltByHand() throws {
        try withAvailable(.snappy) {
            // A raw snappy block of one literal: uncompressed length varint 5, tag (5 - 1) << 2 = 0x10, the bytes.
            let rawBlock: [UInt8] = [0x05, 0x10] + Array("hello".utf8)
            let fromRawBlock = try KafkaCompressionCodec.snappy.decompress(ByteBuffer(bytes: rawBlock))
            #expect(fromRawBlock == ByteBuffer(string: "hello"))

            // The same block framed twice, the second time after a header of a concatenated stream.
            let header: [UInt8] = [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]
            let framedBlock: [UInt8] = [0, 0, 0, UInt8(rawBlock.count)] + rawBlock
            let framed = header + framedBlock + header + framedBlock
            let fromFramed = try KafkaCompressionCodec.snappy.decompress(ByteBuffer(bytes: framed))
            #expect(fromFramed == ByteBuffer(string: "hellohello"))
        }
    }

    @Test(arguments: compressedCodecs)
    func decompressionBombIsRefused(codec: KafkaCompressionCodec) throws {
        try withAvailable(codec) {
            let size = 4 * 1024 * 1024
            var compressed = ByteBuffer()
            try codec.compress(ByteBuffer(repeating: 0, count: size), into: &compressed)
            #expect(compressed.readableBytes < size / 20)
            let error = #expect(throws: KafkaWireError.self) {
                try codec.decompress(compressed, maxDecompressedBytes: 1024 * 1024)
            }
            #expect(error?.code == .compressionFailed)
            #expect(error?.detail.contains("limit") == true)
            // Exactly at the limit is allowed.
            #expect(try codec.decompress(compressed, maxDecompressedBytes: size).readableBytes == size)
            #expect(throws: KafkaWireError.self) { try codec.decompress(compressed, maxDecompressedBytes: size - 1) }
        }
    }

    @Test(arguments: compressedCodecs)
    func truncatedDataIsRefused(codec: KafkaCompressionCodec) throws {
        try withAvailable(codec) {
            var generator = SplitMix64(seed: 4)
            let input = ByteBuffer(bytes: (0..<5000).map { _ in UInt8.random(in: 0...3, using: &generator) })
            var compressed = ByteBuffer()
            try codec.compress(input, into: &compressed)
            for cut in [1, 2, 4, 8, compressed.readableBytes / 2] {
                let truncated = compressed.getSlice(at: 0, length: compressed.readableBytes - cut)!
                let error = #expect(throws: KafkaWireError.self, "\(codec) cut by \(cut)") {
                    try codec.decompress(truncated)
                }
                #expect(error?.code == .compressionFailed)
            }
        }
    }

    @Test(arguments: compressedCodecs)
    func garbageNeverTraps(codec: KafkaCompressionCodec) throws {
        try withAvailable(codec) {
            var generator = SplitMix64(seed: 5)
            var valid = ByteBuffer()
            try codec.compress(ByteBuffer(string: String(repeating: "abcdefgh", count: 200)), into: &valid)
            for iteration in 0..<500 {
                var bytes: [UInt8]
                if iteration % 2 == 0 {
                    bytes = (0..<Int.random(in: 1...200, using: &generator)).map { _ in
                        UInt8.random(in: 0...255, using: &generator)
                    }
                } else {
                    // Valid data with a few bytes changed gets further into the decoder than noise does.
                    bytes = Array(valid.readableBytesView)
                    for _ in 0..<Int.random(in: 1...4, using: &generator) {
                        bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(
                            in: 0...255, using: &generator)
                    }
                }
                do {
                    _ = try codec.decompress(ByteBuffer(bytes: bytes), maxDecompressedBytes: 1 << 20)
                } catch let error as KafkaWireError {
                    #expect(error.code == .compressionFailed)
                } catch {
                    Issue.record("untyped error \(error)")
                }
            }
        }
    }

    @Test func missingLibraryErrorNamesTheCodecAndTheFile() {
        let error = #expect(throws: KafkaWireError.self) {
            try SharedLibrary.open(codec: "snappy", fileNames: ["libsluice-does-not-exist.so.1"])
        }
        #expect(error?.code == .unsupportedCompression)
        #expect(error?.detail.contains("snappy") == true)
        #expect(error?.detail.contains("libsluice-does-not-exist.so.1") == true)
    }

    @Test func emptyCompressedDataIsRefused() {
        for codec in Self.compressedCodecs where codec.isAvailable {
            #expect(throws: KafkaWireError.self) { try codec.decompress(ByteBuffer()) }
        }
    }
}
