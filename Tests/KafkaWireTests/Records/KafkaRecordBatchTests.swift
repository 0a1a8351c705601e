import KafkaWire
import NIOCore
import Testing

@Suite struct KafkaRecordBatchTests {
    /// One record, key "k", value "v", header "h" = "x", timestamp 1 700 000 000 000 ms, as a producer without
    /// idempotence sends it. Written out by hand from implementation.html 5.3.1/5.3.2; the CRC was computed
    /// separately with a bit-at-a-time CRC-32C.
    static let knownBatch: [UInt8] = [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // baseOffset 0
        0x00, 0x00, 0x00, 0x3E,  // batchLength 62 = 49 header bytes after this field + 13 record bytes
        0xFF, 0xFF, 0xFF, 0xFF,  // partitionLeaderEpoch -1
        0x02,  // magic
        0x5E, 0x93, 0x53, 0x8D,  // crc over attributes...end
        0x00, 0x00,  // attributes: no compression, create time, not transactional, not control
        0x00, 0x00, 0x00, 0x00,  // lastOffsetDelta 0
        0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x00,  // baseTimestamp 1 700 000 000 000
        0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x00,  // maxTimestamp
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // producerId -1
        0xFF, 0xFF,  // producerEpoch -1
        0xFF, 0xFF, 0xFF, 0xFF,  // baseSequence -1
        0x00, 0x00, 0x00, 0x01,  // recordsCount 1
        0x18,  // record length: zig-zag varint 12
        0x00,  // record attributes
        0x00,  // timestampDelta 0
        0x00,  // offsetDelta 0
        0x02, 0x6B,  // key length 1, "k"
        0x02, 0x76,  // value length 1, "v"
        0x02,  // header count 1
        0x02, 0x68,  // header key length 1, "h"
        0x02, 0x78,  // header value length 1, "x"
    ]

    static let knownRecord = KafkaRecord(
        timestamp: RecordsTestSupport.timestamp, key: ByteBuffer(string: "k"), value: ByteBuffer(string: "v"),
        headers: [KafkaRecordHeader(key: "h", value: ByteBuffer(string: "x"))])

    @Test func encoderWritesTheKnownBytes() throws {
        var buffer = ByteBuffer()
        let written = try KafkaRecordBatch.encode(records: [Self.knownRecord], into: &buffer)
        #expect(written == Self.knownBatch.count)
        #expect(Array(buffer.readableBytesView) == Self.knownBatch)
    }

    @Test func decoderReadsTheKnownBytes() throws {
        let input = ByteBuffer(bytes: Self.knownBatch)
        let batches = try KafkaRecordBatchDecoder.decode(input)
        #expect(batches.count == 1)
        let batch = try #require(batches.first)
        #expect(batch.baseOffset == 0)
        #expect(batch.batchLength == 62)
        #expect(batch.partitionLeaderEpoch == -1)
        #expect(batch.magic == 2)
        #expect(batch.crc == 0x5E93_538D)
        #expect(batch.attributes == 0)
        #expect(batch.compression == .none)
        #expect(batch.timestampType == .createTime)
        #expect(!batch.isTransactional && !batch.isControl && !batch.hasDeleteHorizon)
        #expect(batch.lastOffsetDelta == 0)
        #expect(batch.baseTimestamp == RecordsTestSupport.timestamp)
        #expect(batch.maxTimestamp == RecordsTestSupport.timestamp)
        #expect(batch.producerId == -1 && batch.producerEpoch == -1 && batch.baseSequence == -1)
        #expect(batch.records == [Self.knownRecord])
        #expect(batch.nextOffset == 1)
    }

    @Test func decodedKeysAndValuesAreSlicesOfTheInput() throws {
        let input = ByteBuffer(bytes: Self.knownBatch)
        let record = try #require(KafkaRecordBatchDecoder.decode(input).first?.records.first)
        let base = input.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        // The key is at byte 66 (61 header bytes, then length, attributes, timestamp delta, offset delta, key
        // length) and the value at 68.
        #expect(record.key!.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } == base + 66)
        #expect(record.value!.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } == base + 68)
        #expect(record.headers[0].value!.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } == base + 73)
    }

    /// 1000 records with null and empty keys and values, null header values, unicode header keys, and timestamps
    /// that go back and forth around the first.
    static func variedRecords(count: Int = 1000) -> [KafkaRecord] {
        (0..<count).map { index in
            let key: ByteBuffer? =
                switch index % 4 {
                case 0: nil
                case 1: ByteBuffer()
                default: ByteBuffer(string: "key-\(index)")
                }
            let value: ByteBuffer? =
                switch index % 5 {
                case 0: nil
                case 1: ByteBuffer()
                case 2: ByteBuffer(repeating: UInt8(truncatingIfNeeded: index), count: 300)
                default: ByteBuffer(string: "value \(index) ✓")
                }
            let headers: [KafkaRecordHeader] =
                switch index % 3 {
                case 0: []
                case 1: [KafkaRecordHeader(key: "ключ-🔑-\(index)", value: ByteBuffer(string: "значение"))]
                default: [KafkaRecordHeader(key: "", value: nil), KafkaRecordHeader(key: "trace", value: ByteBuffer())]
                }
            let timestamp = RecordsTestSupport.timestamp + Int64((index * 7919) % 2000) - 1000
            return KafkaRecord(offset: Int64(index), timestamp: timestamp, key: key, value: value, headers: headers)
        }
    }

    @Test(arguments: KafkaCompressionCodec.allCases)
    func producerBatchRoundTrips(codec: KafkaCompressionCodec) throws {
        guard codec.isAvailable else {
            // KafkaCompressionCodecTests checks the error that a missing library gives.
            return
        }
        let records = Self.variedRecords()
        var buffer = ByteBuffer()
        try KafkaRecordBatch.encode(
            records: records, compression: codec, producerId: 4242, producerEpoch: 3, baseSequence: 17,
            isTransactional: true, into: &buffer)
        let batches = try KafkaRecordBatchDecoder.decode(buffer)
        let batch = try #require(batches.first)
        #expect(batches.count == 1)
        #expect(batch.compression == codec)
        #expect(batch.isTransactional)
        #expect(batch.producerId == 4242 && batch.producerEpoch == 3 && batch.baseSequence == 17)
        #expect(batch.baseOffset == 0 && batch.lastOffsetDelta == 999)
        #expect(batch.baseTimestamp == records[0].timestamp)
        #expect(batch.maxTimestamp == records.map(\.timestamp).max())
        #expect(Int(batch.batchLength) + 12 == buffer.readableBytes)
        #expect(batch.records.count == records.count)
        for (decoded, original) in zip(batch.records, records) {
            #expect(decoded == original)
        }
    }

    @Test func producerOffsetsAreDeltasFromZeroWhateverTheRecordsSay() throws {
        let records = [
            KafkaRecord(offset: 500, timestamp: 10, value: ByteBuffer(string: "a")),
            KafkaRecord(offset: 7, timestamp: 5, value: ByteBuffer(string: "b")),
        ]
        var buffer = ByteBuffer()
        try KafkaRecordBatch.encode(records: records, into: &buffer)
        let batch = try #require(try KafkaRecordBatchDecoder.decode(buffer).first)
        #expect(batch.records.map(\.offset) == [0, 1])
        #expect(batch.records.map(\.timestamp) == [10, 5])
        #expect(batch.baseTimestamp == 10 && batch.maxTimestamp == 10)
    }

    @Test func aBatchValueRoundTripsThroughWrite() throws {
        let batch = KafkaRecordBatch(
            baseOffset: 1_000_000, partitionLeaderEpoch: 12, compression: .gzip, timestampType: .createTime,
            lastOffsetDelta: 9,  // past the last record's delta: as after compaction
            baseTimestamp: RecordsTestSupport.timestamp, maxTimestamp: RecordsTestSupport.timestamp + 50,
            producerId: 99, producerEpoch: 1, baseSequence: 40,
            records: [
                KafkaRecord(
                    offset: 1_000_002, timestamp: RecordsTestSupport.timestamp + 50, value: ByteBuffer(string: "x")),
                KafkaRecord(offset: 1_000_005, timestamp: RecordsTestSupport.timestamp - 3, value: nil),
            ])
        var buffer = ByteBuffer()
        let written = try batch.write(into: &buffer)
        let decoded = try #require(try KafkaRecordBatchDecoder.decode(buffer).first)
        #expect(written == buffer.readableBytes)
        #expect(decoded.records == batch.records)
        #expect(decoded.partitionLeaderEpoch == 12)
        #expect(decoded.lastOffset == 1_000_009)
        #expect(decoded.nextOffset == 1_000_010)
        #expect(decoded.attributes == batch.attributes)
        // Writing what was read gives the same bytes.
        var rewritten = ByteBuffer()
        try decoded.write(into: &rewritten)
        #expect(rewritten == buffer)
    }

    @Test func attributeBitsRoundTrip() throws {
        for bits in 0..<32 {
            var batch = RecordsTestSupport.dataBatch(baseOffset: 3, count: 2)
            batch.timestampType = bits & 1 != 0 ? .logAppendTime : .createTime
            batch.isTransactional = bits & 2 != 0
            batch.isControl = bits & 4 != 0
            batch.hasDeleteHorizon = bits & 8 != 0
            batch.compression = bits & 16 != 0 ? .zstd : .none
            var buffer = ByteBuffer()
            try batch.write(into: &buffer)
            #expect(buffer.getInteger(at: 21, as: Int16.self) == batch.attributes)
            let decoded = try #require(try KafkaRecordBatchDecoder.decode(buffer).first)
            #expect(decoded.attributes == batch.attributes)
            #expect(decoded.timestampType == batch.timestampType)
            #expect(decoded.isTransactional == batch.isTransactional)
            #expect(decoded.isControl == batch.isControl)
            #expect(decoded.hasDeleteHorizon == batch.hasDeleteHorizon)
            #expect(decoded.compression == batch.compression)
        }
    }

    @Test func logAppendTimeGivesEveryRecordTheMaxTimestamp() throws {
        var batch = RecordsTestSupport.dataBatch(baseOffset: 0, count: 3)
        batch.timestampType = .logAppendTime
        batch.maxTimestamp = 1_800_000_000_000
        let decoded = try #require(try KafkaRecordBatchDecoder.decode(RecordsTestSupport.bytes(of: [batch])).first)
        #expect(decoded.records.map(\.timestamp) == [1_800_000_000_000, 1_800_000_000_000, 1_800_000_000_000])
    }

    @Test func anEmptyBatchLeftByCompactionDecodes() throws {
        let batch = KafkaRecordBatch(
            baseOffset: 40, lastOffsetDelta: 4, baseTimestamp: 0, maxTimestamp: 0, producerId: 5, producerEpoch: 0,
            baseSequence: 0, records: [])
        let decoded = try KafkaRecordBatchDecoder.decode(RecordsTestSupport.bytes(of: [batch]))
        #expect(decoded.count == 1)
        #expect(decoded.first?.records.isEmpty == true)
        #expect(decoded.first?.nextOffset == 45)
    }

    @Test func encodingRefusesNoRecordsAndLeavesTheBufferAsItWas() throws {
        var buffer = ByteBuffer(string: "before")
        let error = #expect(throws: KafkaWireError.self) {
            try KafkaRecordBatch.encode(records: [KafkaRecord](), into: &buffer)
        }
        #expect(error?.code == .invalidLength)
        #expect(buffer == ByteBuffer(string: "before"))

        // An offset too far from the base offset for an int32 delta: nothing of the batch may stay behind.
        let batch = KafkaRecordBatch(
            baseOffset: 0, lastOffsetDelta: 0, baseTimestamp: 0, maxTimestamp: 0,
            records: [KafkaRecord(offset: Int64(Int32.max) + 1, timestamp: 0, value: nil)])
        #expect(throws: KafkaWireError.self) { try batch.write(into: &buffer) }
        #expect(buffer == ByteBuffer(string: "before"))
    }
}
