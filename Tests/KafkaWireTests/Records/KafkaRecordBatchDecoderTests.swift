import KafkaWire
import NIOCore
import Testing

@Suite struct KafkaRecordBatchDecoderTests {
    /// Three batches, one of them compressed, as a Fetch response's records would hold them.
    static func threeBatches() throws -> (bytes: ByteBuffer, ends: [Int]) {
        var second = RecordsTestSupport.dataBatch(baseOffset: 10, count: 5)
        second.compression = .gzip
        let batches = [
            RecordsTestSupport.dataBatch(baseOffset: 0, count: 3),
            second,
            RecordsTestSupport.dataBatch(baseOffset: 15, count: 4),
        ]
        var buffer = ByteBuffer()
        var ends: [Int] = []
        for batch in batches {
            try batch.write(into: &buffer)
            ends.append(buffer.writerIndex)
        }
        return (buffer, ends)
    }

    @Test func readsSeveralBatchesInOrder() throws {
        let (bytes, _) = try Self.threeBatches()
        var decoder = KafkaRecordBatchDecoder(bytes)
        var offsets: [Int64] = []
        while let batch = try decoder.next() {
            offsets += batch.records.map(\.offset)
        }
        #expect(offsets == [0, 1, 2, 10, 11, 12, 13, 14, 15, 16, 17, 18])
        #expect(decoder.unreadBytes == 0)
    }

    @Test func aPartialTrailingBatchIsIgnored() throws {
        let (bytes, ends) = try Self.threeBatches()
        // Every cut inside the last batch, from its first byte to its last but one.
        for cut in ends[1]..<ends[2] {
            var decoder = KafkaRecordBatchDecoder(bytes.getSlice(at: 0, length: cut)!)
            var count = 0
            while try decoder.next() != nil { count += 1 }
            #expect(count == 2, "cut at \(cut)")
            #expect(decoder.unreadBytes == cut - ends[1])
        }
    }

    @Test func everyPrefixDecodesTheCompleteBatchesAndNeverTraps() throws {
        let (bytes, ends) = try Self.threeBatches()
        for length in 0...bytes.readableBytes {
            let batches = try KafkaRecordBatchDecoder.decode(bytes.getSlice(at: 0, length: length)!)
            #expect(batches.count == ends.filter { $0 <= length }.count, "prefix of \(length) bytes")
        }
    }

    @Test func aChangedByteFailsTheCRC() throws {
        let (bytes, ends) = try Self.threeBatches()
        // Each byte the CRC covers (attributes to the end) in the first batch, and the CRC itself.
        for index in 17..<ends[0] {
            var corrupted = bytes
            corrupted.setInteger(bytes.getInteger(at: index, as: UInt8.self)! ^ 0x01, at: index)
            let error = #expect(throws: KafkaWireError.self, "byte \(index)") {
                try KafkaRecordBatchDecoder.decode(corrupted)
            }
            #expect(error?.code == .corruptBatch, "byte \(index)")
        }
    }

    @Test func thePartitionLeaderEpochIsOutsideTheCRC() throws {
        // The broker assigns it after the producer computed the CRC.
        var bytes = try Self.threeBatches().bytes
        bytes.setInteger(Int32(77), at: 12)
        #expect(try KafkaRecordBatchDecoder.decode(bytes).first?.partitionLeaderEpoch == 77)
    }

    @Test func otherMagicsAreRefusedByName() throws {
        for magic: Int8 in [0, 1, 3, -1] {
            var bytes = ByteBuffer(bytes: KafkaRecordBatchTests.knownBatch)
            bytes.setInteger(magic, at: 16)
            let error = #expect(throws: KafkaWireError.self) { try KafkaRecordBatchDecoder.decode(bytes) }
            #expect(error?.code == .unsupportedMagic)
            #expect(error?.detail.contains("magic \(magic)") == true)
            // Even when the batch is cut short, once the magic byte is there.
            #expect(throws: KafkaWireError.self) {
                try KafkaRecordBatchDecoder.decode(bytes.getSlice(at: 0, length: 20)!)
            }
        }
    }

    @Test func anErrorFinishesTheDecoder() throws {
        var bytes = try Self.threeBatches().bytes
        bytes.setInteger(UInt8(0xEE), at: 30)
        var decoder = KafkaRecordBatchDecoder(bytes)
        #expect(throws: KafkaWireError.self) { try decoder.next() }
        #expect(try decoder.next() == nil)
    }

    // MARK: Malformed batches, each with a CRC that matches so that the bytes after it are what is tested

    /// The known one-record batch with bytes from `index` on replaced by `bytes`, its recordsCount set to
    /// `count` when given, its length and CRC fixed up.
    static func edited(
        at index: Int, replacingWith bytes: [UInt8], through end: Int? = nil, recordsCount: Int32? = nil
    )
        -> ByteBuffer
    {
        var raw = KafkaRecordBatchTests.knownBatch
        raw.replaceSubrange(index..<(end ?? index + bytes.count), with: bytes)
        var buffer = ByteBuffer(bytes: raw)
        buffer.setInteger(Int32(raw.count - 12), at: 8)
        if let recordsCount { buffer.setInteger(recordsCount, at: 57) }
        RecordsTestSupport.fixCRC(&buffer)
        return buffer
    }

    static let malformed: [(String, ByteBuffer, KafkaWireError.Code)] = [
        (
            "more records declared than fit", edited(at: 61, replacingWith: [], through: 61, recordsCount: 2),
            .invalidLength
        ),
        (
            "fewer records declared than present", edited(at: 61, replacingWith: [], through: 61, recordsCount: 0),
            .invalidLength
        ),
        ("negative records count", edited(at: 61, replacingWith: [], through: 61, recordsCount: -1), .invalidLength),
        ("huge records count", edited(at: 61, replacingWith: [], through: 61, recordsCount: .max), .invalidLength),
        ("negative record length", edited(at: 61, replacingWith: [0x03]), .invalidLength),
        ("record length past the batch", edited(at: 61, replacingWith: [0x1A]), .truncated),
        ("record length short of its fields", edited(at: 61, replacingWith: [0x16]), .truncated),
        (
            "record length past its fields",
            edited(
                at: 61,
                replacingWith: [0x1A, 0x00, 0x00, 0x00, 0x02, 0x6B, 0x02, 0x76, 0x02, 0x02, 0x68, 0x02, 0x78, 0x00],
                through: 74), .invalidLength
        ),
        ("key length below -1", edited(at: 65, replacingWith: [0x03]), .invalidLength),
        ("key length past the record", edited(at: 65, replacingWith: [0x40]), .truncated),
        ("negative header count", edited(at: 69, replacingWith: [0x01]), .invalidLength),
        (
            "huge header count", edited(at: 69, replacingWith: [0xFE, 0xFF, 0xFF, 0xFF, 0x0F], through: 70),
            .invalidLength
        ),
        ("null header key", edited(at: 70, replacingWith: [0x01]), .invalidLength),
        ("header key past the record", edited(at: 70, replacingWith: [0x08]), .truncated),
        (
            "varint longer than five bytes",
            edited(at: 61, replacingWith: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], through: 62), .invalidVarint
        ),
        ("unknown compression id", edited(at: 22, replacingWith: [0x05]), .unsupportedCompression),
        ("garbage where gzip records should be", edited(at: 22, replacingWith: [0x01]), .compressionFailed),
    ]

    @Test(arguments: malformed)
    func malformedBatchesThrowTypedErrors(name: String, bytes: ByteBuffer, code: KafkaWireError.Code) {
        let error = #expect(throws: KafkaWireError.self, "\(name)") { try KafkaRecordBatchDecoder.decode(bytes) }
        #expect(error?.code == code, "\(name): \(error?.description ?? "")")
    }

    @Test func impossibleBatchLengthsAreRefused() throws {
        var negative = ByteBuffer(bytes: KafkaRecordBatchTests.knownBatch)
        negative.setInteger(Int32(-1), at: 8)
        #expect(
            (#expect(throws: KafkaWireError.self) { try KafkaRecordBatchDecoder.decode(negative) })?.code
                == .invalidLength)

        var tooShort = ByteBuffer(bytes: KafkaRecordBatchTests.knownBatch)
        tooShort.setInteger(Int32(20), at: 8)
        #expect(
            (#expect(throws: KafkaWireError.self) { try KafkaRecordBatchDecoder.decode(tooShort) })?.code
                == .corruptBatch)

        // A length far past the bytes is a batch cut short, as far as the decoder can tell.
        var huge = ByteBuffer(bytes: KafkaRecordBatchTests.knownBatch)
        huge.setInteger(Int32.max, at: 8)
        #expect(try KafkaRecordBatchDecoder.decode(huge).isEmpty)
    }

    @Test func aCompressedBatchBeyondTheDecompressionLimitIsRefused() throws {
        let records = (0..<200).map { index in
            KafkaRecord(timestamp: 0, value: ByteBuffer(repeating: 0, count: 10_000))
        }
        var buffer = ByteBuffer()
        try KafkaRecordBatch.encode(records: records, compression: .gzip, into: &buffer)
        #expect(buffer.readableBytes < 100_000)
        let error = #expect(throws: KafkaWireError.self) {
            try KafkaRecordBatchDecoder.decode(buffer, maxDecompressedBytes: 1_000_000)
        }
        #expect(error?.code == .compressionFailed)
        #expect(try KafkaRecordBatchDecoder.decode(buffer, maxDecompressedBytes: 3_000_000).first?.records.count == 200)
    }

    // MARK: Fuzz

    @Test func randomGarbageNeverTraps() {
        var generator = SplitMix64(seed: 6)
        for _ in 0..<3000 {
            let count = Int.random(in: 0...200, using: &generator)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Plausible headers get past the first checks more often than pure noise.
            if bytes.count >= 17 && Bool.random(using: &generator) {
                bytes.replaceSubrange(8..<12, with: withUnsafeBytes(of: Int32(bytes.count - 12).bigEndian, Array.init))
                bytes[16] = 2
            }
            do {
                _ = try KafkaRecordBatchDecoder.decode(ByteBuffer(bytes: bytes), maxDecompressedBytes: 1 << 20)
            } catch {
                // Any KafkaWireError is fine; the point is that nothing traps.
            }
        }
    }

    @Test(arguments: KafkaCompressionCodec.allCases)
    func mutatedBatchesWithValidCRCsNeverTrap(codec: KafkaCompressionCodec) throws {
        guard codec.isAvailable else { return }
        var generator = SplitMix64(seed: 7 + UInt64(codec.rawValue))
        var valid = ByteBuffer()
        try KafkaRecordBatch.encode(
            records: KafkaRecordBatchTests.variedRecords(count: 20), compression: codec, into: &valid)
        let original = Array(valid.readableBytesView)
        var failures = 0
        for _ in 0..<1000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                // Only the records section and the count before it: the header has its own checks above.
                let index = Int.random(in: 57..<bytes.count, using: &generator)
                bytes[index] = UInt8.random(in: 0...255, using: &generator)
            }
            var buffer = ByteBuffer(bytes: bytes)
            RecordsTestSupport.fixCRC(&buffer)
            do {
                _ = try KafkaRecordBatchDecoder.decode(buffer, maxDecompressedBytes: 1 << 20)
            } catch {
                failures += 1
            }
        }
        // Most mutations must be caught; some (a changed byte inside a value) are legitimately still valid.
        #expect(failures > 0)
    }
}
