import KafkaWire
import NIOCore
import Testing

/// The producer's batch builder writes the same batch as the one-shot encoder, record by record, in the buffer it
/// was given.
@Suite struct KafkaRecordBatchBuilderTests {
    static let records: [KafkaRecord] = (0..<50).map { index in
        KafkaRecord(
            timestamp: RecordsTestSupport.timestamp + Int64(index % 7) * 1_000 - 3_000,
            key: index % 5 == 0 ? nil : ByteBuffer(string: "key-\(index)"),
            value: index % 11 == 0 ? nil : ByteBuffer(repeating: UInt8(index), count: index * 13),
            headers: index % 3 == 0 ? [KafkaRecordHeader(key: "h\(index)", value: ByteBuffer(string: "v"))] : [])
    }

    func build(_ records: [KafkaRecord], capacity: Int = 64 * 1024) throws -> KafkaRecordBatchBuilder {
        var builder = KafkaRecordBatchBuilder(buffer: ByteBufferAllocator().buffer(capacity: capacity))
        for record in records {
            try builder.append(
                timestamp: record.timestamp, key: record.key, value: record.value, headers: record.headers)
        }
        return builder
    }

    @Test func theBuiltBatchIsTheEncodersBatch() throws {
        var expected = ByteBuffer()
        try KafkaRecordBatch.encode(
            records: Self.records, producerId: 9, producerEpoch: 1, baseSequence: 100, into: &expected)
        var builder = try build(Self.records)
        #expect(builder.recordCount == 50)
        #expect(builder.sizeInBytes == expected.readableBytes)
        let built = try builder.finish(producerId: 9, producerEpoch: 1, baseSequence: 100)
        #expect(built == expected)
    }

    @Test func theKnownBatchFromOneRecord() throws {
        var builder = try build([KafkaRecordBatchTests.knownRecord])
        let built = try builder.finish()
        #expect(Array(built.readableBytesView) == KafkaRecordBatchTests.knownBatch)
    }

    @Test func appendingDoesNotGrowABufferSizedForTheBatch() throws {
        var expected = ByteBuffer()
        try KafkaRecordBatch.encode(records: Self.records, into: &expected)
        var builder = try build(Self.records, capacity: expected.readableBytes)
        let capacity = builder.buffer.capacity
        let built = try builder.finish()
        #expect(built.capacity == capacity)
    }

    @Test func eachRecordFitsWithinItsMaximumSize() throws {
        var builder = KafkaRecordBatchBuilder(buffer: ByteBuffer())
        for record in Self.records {
            let before = builder.sizeInBytes
            try builder.append(
                timestamp: record.timestamp, key: record.key, value: record.value, headers: record.headers)
            let bound = try KafkaRecordBatchBuilder.maximumRecordSize(
                key: record.key, value: record.value, headers: record.headers)
            #expect(builder.sizeInBytes - before <= bound)
        }
        let batchBound = try KafkaRecordBatchBuilder.maximumBatchSize(key: nil, value: ByteBuffer(), headers: [])
        #expect(batchBound >= 61 + 1 + 7)
    }

    @Test func aCompressedCopyDecodesToTheSameRecordsAndLeavesTheBuilderAlone() throws {
        let builder = try build(Self.records)
        let before = builder.buffer
        var compressed = try builder.finish(compressingWith: .gzip, producerId: 3, producerEpoch: 0, baseSequence: 0)
        #expect(builder.buffer == before)
        let decoded = try KafkaRecordBatch(from: &compressed)
        #expect(decoded.compression == .gzip)
        #expect(decoded.records.map(\.value) == Self.records.map(\.value))
        #expect(decoded.records.map(\.key) == Self.records.map(\.key))
        #expect(decoded.records.map(\.timestamp) == Self.records.map(\.timestamp))
        #expect(decoded.records.map(\.headers) == Self.records.map(\.headers))
        #expect(decoded.producerId == 3)
    }

    @Test func aRecordThatExactlyFillsTheBufferIsWrittenWithoutGrowingIt() throws {
        // A 128-byte buffer: the 61-byte header and a 67-byte record (8 bytes of framing and fields, 59 of key or
        // value). Growing it would count the batch's memory wrong and copy it.
        let bytes = ByteBuffer(repeating: 0x61, count: 59)
        for (key, value) in [(nil, bytes), (bytes, nil)] as [(ByteBuffer?, ByteBuffer?)] {
            var builder = KafkaRecordBatchBuilder(buffer: ByteBufferAllocator().buffer(capacity: 128))
            #expect(builder.buffer.capacity == 128)
            try builder.append(timestamp: 1_000, key: key, value: value)
            #expect(builder.sizeInBytes == 128)
            #expect(builder.buffer.capacity == 128, "the buffer was not grown")
            var built = try builder.finish()
            let decoded = try KafkaRecordBatch(from: &built)
            #expect(decoded.records.map(\.key) == [key])
            #expect(decoded.records.map(\.value) == [value])
        }
    }

    @Test func anEmptyBatchCannotBeFinished() {
        var builder = KafkaRecordBatchBuilder(buffer: ByteBuffer())
        #expect(throws: KafkaWireError.self) { _ = try builder.finish() }
    }
}
