import NIOCore

/// Writes a producer's record batch one record at a time, straight into the buffer the batch will be sent from.
///
/// A producer appends each record as it arrives: its key, value and headers are copied once, into the batch, and
/// the caller's buffers can go at once. `finish` fills in the header (counts, timestamps, producer id and
/// sequence) and computes the CRC, in place; `finish(compressingWith:)` writes a compressed copy instead. Offsets are deltas 0, 1, 2, ... (the broker
/// assigns offsets); timestamps are create time, as deltas from the first record's.
public struct KafkaRecordBatchBuilder: Sendable {
    /// The batch so far: a header-sized gap, then the records.
    public private(set) var buffer: ByteBuffer
    private let start: Int
    /// Records appended so far.
    public private(set) var recordCount: Int32 = 0
    /// The first record's timestamp.
    public private(set) var baseTimestamp: Int64 = 0
    /// The largest timestamp appended.
    public private(set) var maxTimestamp: Int64 = 0

    /// Starts a batch at `buffer`'s writer index; the buffer's capacity is used as it is (a producer hands in a
    /// buffer sized for a whole batch, so appending never reallocates).
    public init(buffer: consuming ByteBuffer) {
        self.start = buffer.writerIndex
        // Taken over, not shared: writing into a shared buffer would copy all of it first.
        self.buffer = consume buffer
        self.buffer.writeRepeatingByte(0, count: KafkaRecordBatch.headerSize)
    }

    /// The batch's size in bytes so far, uncompressed, header included.
    public var sizeInBytes: Int { buffer.writerIndex - start }

    /// The most bytes a record can take in a batch, whatever its offset and timestamp deltas: its length varint
    /// and body, with both deltas at their widest. A producer checks this against the room left before appending.
    /// - Throws: ``KafkaWireError/Code/invalidLength`` for a record larger than the format can hold.
    public static func maximumRecordSize(
        key: ByteBuffer?,
        value: ByteBuffer?,
        headers: [KafkaRecordHeader]
    ) throws(KafkaWireError) -> Int {
        // Widest deltas: a timestamp delta needs up to 10 bytes as a varlong, an offset delta up to 5.
        let body = try KafkaRecordBatch.recordBodySize(
            timestampDelta: Int64.min, offsetDelta: Int32.min, key: key, value: value, headers: headers)
        return ByteBuffer.varintSize(Int64(body)) + body
    }

    /// The bytes of a batch holding just this record: the header and the record at its widest.
    public static func maximumBatchSize(
        key: ByteBuffer?,
        value: ByteBuffer?,
        headers: [KafkaRecordHeader]
    ) throws(KafkaWireError) -> Int {
        try KafkaRecordBatch.headerSize + maximumRecordSize(key: key, value: value, headers: headers)
    }

    /// Appends a record.
    /// - Throws: ``KafkaWireError/Code/invalidLength`` for more records than a batch can count or a record
    ///   larger than the format can hold; nothing is appended then.
    public mutating func append(
        timestamp: Int64,
        key: ByteBuffer?,
        value: ByteBuffer?,
        headers: [KafkaRecordHeader] = []
    ) throws(KafkaWireError) {
        guard recordCount < Int32.max else {
            throw KafkaWireError(.invalidLength, "a record batch holds at most \(Int32.max) records")
        }
        if recordCount == 0 {
            baseTimestamp = timestamp
            maxTimestamp = timestamp
        }
        let before = buffer.writerIndex
        do {
            try KafkaRecordBatch.writeRecord(
                timestampDelta: timestamp &- baseTimestamp, offsetDelta: recordCount, key: key, value: value,
                headers: headers, into: &buffer)
        } catch {
            buffer.moveWriterIndex(to: before)
            throw error
        }
        recordCount += 1
        maxTimestamp = max(maxTimestamp, timestamp)
    }

    /// Completes the batch in its own buffer and returns it, ready to send: the header, then the CRC. The
    /// builder is done with afterwards.
    /// - Throws: ``KafkaWireError/Code/invalidLength`` for a batch without records.
    public mutating func finish(
        producerId: Int64 = -1,
        producerEpoch: Int16 = -1,
        baseSequence: Int32 = -1,
        isTransactional: Bool = false
    ) throws(KafkaWireError) -> ByteBuffer {
        // Static, given the fields: a method on `self` here would hold a copy of `self`, and so of the buffer,
        // while the buffer is written, which copies the whole buffer first.
        try Self.finishHeader(
            in: &buffer, at: start, compression: .none, recordCount: recordCount, baseTimestamp: baseTimestamp,
            maxTimestamp: maxTimestamp, producerId: producerId, producerEpoch: producerEpoch,
            baseSequence: baseSequence, isTransactional: isTransactional)
        var batch = buffer
        batch.moveReaderIndex(to: start)
        return batch
    }

    /// The batch with its records compressed, in a new buffer; the builder's own buffer is only read.
    /// - Throws: ``KafkaWireError/Code/invalidLength`` for a batch without records; the codec's errors.
    public func finish(
        compressingWith compression: KafkaCompressionCodec,
        producerId: Int64 = -1,
        producerEpoch: Int16 = -1,
        baseSequence: Int32 = -1,
        isTransactional: Bool = false
    ) throws(KafkaWireError) -> ByteBuffer {
        let recordsStart = start + KafkaRecordBatch.headerSize
        let records = buffer.getSlice(at: recordsStart, length: buffer.writerIndex - recordsStart)!
        var batch = ByteBuffer()
        batch.reserveCapacity(KafkaRecordBatch.headerSize + records.readableBytes / 2)
        batch.writeRepeatingByte(0, count: KafkaRecordBatch.headerSize)
        try compression.compress(records, into: &batch)
        try Self.finishHeader(
            in: &batch, at: 0, compression: compression, recordCount: recordCount, baseTimestamp: baseTimestamp,
            maxTimestamp: maxTimestamp, producerId: producerId, producerEpoch: producerEpoch,
            baseSequence: baseSequence, isTransactional: isTransactional)
        return batch
    }

    private static func finishHeader(
        in buffer: inout ByteBuffer,
        at start: Int,
        compression: KafkaCompressionCodec,
        recordCount: Int32,
        baseTimestamp: Int64,
        maxTimestamp: Int64,
        producerId: Int64,
        producerEpoch: Int16,
        baseSequence: Int32,
        isTransactional: Bool
    ) throws(KafkaWireError) {
        guard recordCount > 0 else {
            throw KafkaWireError(.invalidLength, "a record batch needs at least one record")
        }
        let attributes = KafkaRecordBatch.attributes(
            compression: compression, timestampType: .createTime, isTransactional: isTransactional,
            isControl: false, hasDeleteHorizon: false)
        _ = try KafkaRecordBatch.finishBatch(
            in: &buffer, at: start, baseOffset: 0, partitionLeaderEpoch: -1, attributes: attributes,
            lastOffsetDelta: recordCount - 1, baseTimestamp: baseTimestamp, maxTimestamp: maxTimestamp,
            producerId: producerId, producerEpoch: producerEpoch, baseSequence: baseSequence,
            recordCount: recordCount)
    }
}
