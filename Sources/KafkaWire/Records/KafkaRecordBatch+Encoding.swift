import NIOCore

extension KafkaRecordBatch {
    /// Bytes from `baseOffset` to `recordsCount` inclusive: a batch's header.
    public static let headerSize = 61
    /// Bytes from `baseOffset` to `batchLength` inclusive: what `batchLength` does not count.
    static let logOverhead = 12
    /// The smallest `batchLength` of a v2 batch: `partitionLeaderEpoch` to `recordsCount`.
    static let minimumBatchLength = Int32(headerSize - logOverhead)
    static let batchLengthOffset = 8
    static let magicOffset = 16
    static let crcOffset = 17
    /// Where the bytes the CRC covers start.
    static let attributesOffset = 21
    static let lastOffsetDeltaOffset = 23

    /// Writes a new batch of `records` the way a producer sends it in a Produce request.
    ///
    /// The base offset is 0 (the broker assigns offsets) and the records' offset deltas are 0 to n-1, whatever
    /// their `offset`. The base timestamp is the first record's, the max timestamp the largest; timestamps are
    /// create time. Only the records section is compressed. `batchLength` and the CRC are patched in once the
    /// batch is written.
    ///
    /// - Parameters:
    ///   - producerId: the idempotent or transactional producer's id; -1 for none.
    ///   - baseSequence: the first record's sequence number for this producer and partition; -1 for none.
    ///   - buffer: the batch is appended at its writer index. On error nothing is left appended.
    /// - Returns: the number of bytes written.
    /// - Throws: ``KafkaWireError/Code/invalidLength`` for no records or sizes past what the format can hold;
    ///   the codec's errors.
    @discardableResult
    public static func encode(
        records: some Collection<KafkaRecord>,
        compression: KafkaCompressionCodec = .none,
        producerId: Int64 = -1,
        producerEpoch: Int16 = -1,
        baseSequence: Int32 = -1,
        isTransactional: Bool = false,
        into buffer: inout ByteBuffer
    ) throws(KafkaWireError) -> Int {
        // A concrete array from here on: iterating a generic collection across the module boundary goes through
        // runtime metadata for every record. Array(records) of an Array shares its storage.
        let records = Array(records)
        guard let first = records.first else {
            throw KafkaWireError(.invalidLength, "a record batch needs at least one record")
        }
        guard records.count <= Int(Int32.max) else {
            throw KafkaWireError(.invalidLength, "\(records.count) records do not fit in one batch")
        }
        var maxTimestamp = first.timestamp
        for record in records where record.timestamp > maxTimestamp {
            maxTimestamp = record.timestamp
        }
        let header = KafkaRecordBatch(
            compression: compression, isTransactional: isTransactional, lastOffsetDelta: Int32(records.count - 1),
            baseTimestamp: first.timestamp, maxTimestamp: maxTimestamp, producerId: producerId,
            producerEpoch: producerEpoch, baseSequence: baseSequence, records: [])
        return try header.write(records: records, offsetDeltas: .sequential, into: &buffer)
    }

    /// Writes this batch: its header fields as they are, each record's offset and timestamp as deltas from
    /// `baseOffset` and `baseTimestamp`, its records compressed with `compression`, and a fresh `batchLength`
    /// and CRC.
    ///
    /// Under log-append time the records' timestamps are all `maxTimestamp` once decoded, so their deltas are
    /// written from that.
    /// - Returns: the number of bytes written. On error nothing is left appended.
    @discardableResult
    public func write(into buffer: inout ByteBuffer) throws(KafkaWireError) -> Int {
        try write(records: records, offsetDeltas: .relativeToBaseOffset, into: &buffer)
    }

    enum OffsetDeltas {
        /// 0, 1, 2, ...: a producer's new batch.
        case sequential
        /// Each record's offset minus the base offset.
        case relativeToBaseOffset
    }

    /// Writes the header fields of `self` with `records` (not `self.records`).
    func write(
        records: [KafkaRecord],
        offsetDeltas: OffsetDeltas,
        into buffer: inout ByteBuffer
    ) throws(KafkaWireError) -> Int {
        let start = buffer.writerIndex
        do {
            return try unsafeWrite(records: records, offsetDeltas: offsetDeltas, into: &buffer)
        } catch {
            buffer.moveWriterIndex(to: start)
            throw error
        }
    }

    /// Writes the batch; on error the buffer is left with part of it, which `write` takes back.
    private func unsafeWrite(
        records: [KafkaRecord],
        offsetDeltas: OffsetDeltas,
        into buffer: inout ByteBuffer
    ) throws(KafkaWireError) -> Int {
        guard records.count <= Int(Int32.max) else {
            throw KafkaWireError(.invalidLength, "\(records.count) records do not fit in one batch")
        }
        // First pass: sizes only, so that the records are written with one reservation and no per-record buffers.
        // Records are borrowed through the array's storage: a `for` loop over the array copies each one, which
        // costs more than the sizing itself.
        let recordsSize = try records.withUnsafeBufferPointer { (records) throws(KafkaWireError) -> Int in
            var recordsSize = 0
            for index in records.indices {
                let delta = try offsetDelta(of: records[index], at: index, offsetDeltas)
                let bodySize = try bodySize(of: records[index], offsetDelta: delta)
                recordsSize += ByteBuffer.varintSize(Int64(bodySize)) + bodySize
            }
            return recordsSize
        }

        let start = buffer.writerIndex
        buffer.reserveCapacity(
            minimumWritableBytes: Self.headerSize + (compression == .none ? recordsSize : recordsSize / 2))
        buffer.writeRepeatingByte(0, count: Self.headerSize)  // filled in by finishBatch

        if compression == .none {
            try writeRecords(records, offsetDeltas: offsetDeltas, into: &buffer)
        } else {
            var uncompressed = ByteBuffer()
            uncompressed.reserveCapacity(recordsSize)
            try writeRecords(records, offsetDeltas: offsetDeltas, into: &uncompressed)
            try compression.compress(uncompressed, into: &buffer)
        }
        return try Self.finishBatch(
            in: &buffer, at: start, baseOffset: baseOffset, partitionLeaderEpoch: partitionLeaderEpoch,
            attributes: attributes, lastOffsetDelta: lastOffsetDelta, baseTimestamp: baseTimestamp,
            maxTimestamp: maxTimestamp, producerId: producerId, producerEpoch: producerEpoch,
            baseSequence: baseSequence, recordCount: Int32(records.count))
    }

    /// Fills in the header of the batch that starts at `start` and ends at the writer index, its `batchLength`
    /// and its CRC (computed last, over everything from the attributes on).
    /// - Returns: the batch's size in bytes.
    static func finishBatch(
        in buffer: inout ByteBuffer,
        at start: Int,
        baseOffset: Int64,
        partitionLeaderEpoch: Int32,
        attributes: Int16,
        lastOffsetDelta: Int32,
        baseTimestamp: Int64,
        maxTimestamp: Int64,
        producerId: Int64,
        producerEpoch: Int16,
        baseSequence: Int32,
        recordCount: Int32
    ) throws(KafkaWireError) -> Int {
        let size = buffer.writerIndex - start
        guard size - logOverhead <= Int(Int32.max) else {
            throw KafkaWireError(.invalidLength, "record batch of \(size) bytes is larger than the format allows")
        }
        var index = start
        func set<T: FixedWidthInteger>(_ value: T) {
            index += buffer.setInteger(value, at: index, endianness: .big)
        }
        set(baseOffset)
        set(Int32(size - logOverhead))  // batchLength
        set(partitionLeaderEpoch)
        set(Int8(2))  // magic
        set(UInt32(0))  // crc, below
        set(attributes)
        set(lastOffsetDelta)
        set(baseTimestamp)
        set(maxTimestamp)
        set(producerId)
        set(producerEpoch)
        set(baseSequence)
        set(recordCount)
        // The view is gone before the CRC is written: a view alive across the write would make the buffer copy
        // itself whole first.
        let checksum = CRC32C.checksum(buffer.viewBytes(at: start + attributesOffset, length: size - attributesOffset)!)
        buffer.setInteger(checksum, at: start + crcOffset, endianness: .big)
        return size
    }

    private func offsetDelta(
        of record: borrowing KafkaRecord, at index: Int, _ offsetDeltas: OffsetDeltas
    ) throws(KafkaWireError)
        -> Int32
    {
        switch offsetDeltas {
        case .sequential:
            return Int32(truncatingIfNeeded: index)
        case .relativeToBaseOffset:
            let (delta, overflow) = record.offset.subtractingReportingOverflow(baseOffset)
            guard !overflow, let delta = Int32(exactly: delta) else {
                throw KafkaWireError(
                    .invalidLength, "record offset \(record.offset) is too far from base offset \(baseOffset)")
            }
            return delta
        }
    }

    private func writeRecords(
        _ records: [KafkaRecord],
        offsetDeltas: OffsetDeltas,
        into buffer: inout ByteBuffer
    ) throws(KafkaWireError) {
        try records.withUnsafeBufferPointer { (records) throws(KafkaWireError) in
            for index in records.indices {
                try writeRecord(
                    records[index], offsetDelta: offsetDelta(of: records[index], at: index, offsetDeltas), into: &buffer
                )
            }
        }
    }

    private func writeRecord(
        _ record: borrowing KafkaRecord,
        offsetDelta: Int32,
        into buffer: inout ByteBuffer
    ) throws(KafkaWireError) {
        try Self.writeRecord(
            timestampDelta: record.timestamp &- baseTimestamp, offsetDelta: offsetDelta, key: record.key,
            value: record.value, headers: record.headers, into: &buffer)
    }

    private func bodySize(of record: borrowing KafkaRecord, offsetDelta: Int32) throws(KafkaWireError) -> Int {
        try Self.recordBodySize(
            timestampDelta: record.timestamp &- baseTimestamp, offsetDelta: offsetDelta, key: record.key,
            value: record.value, headers: record.headers)
    }

    /// Writes one record: its length varint, then its body.
    static func writeRecord(
        timestampDelta: Int64,
        offsetDelta: Int32,
        key: borrowing ByteBuffer?,
        value: borrowing ByteBuffer?,
        headers: borrowing [KafkaRecordHeader],
        into buffer: inout ByteBuffer
    ) throws(KafkaWireError) {
        let bodySize = try recordBodySize(
            timestampDelta: timestampDelta, offsetDelta: offsetDelta, key: key, value: value, headers: headers)
        // Few writes rather than one per field: every write to a ByteBuffer checks its room and that its storage
        // is not shared. Each asks for no more room than the rest of the record takes, which the caller made sure
        // of (asking for more could grow the buffer). First the fields up to the key's bytes, then the key's bytes.
        let end = buffer.writerIndex + ByteBuffer.varintSize(Int64(bodySize)) + bodySize
        let prefix = (bodySize: Int64(bodySize), timestampDelta: timestampDelta, offsetDelta: Int64(offsetDelta))
        switch key {
        case .none:
            writeRecordPrefix(prefix, keyLength: -1, room: end - buffer.writerIndex, into: &buffer)
        case .some(let key):
            writeRecordPrefix(
                prefix, keyLength: Int64(key.readableBytes), room: end - buffer.writerIndex, into: &buffer)
            _ = key.withUnsafeReadableBytes { buffer.writeBytes($0) }
        }
        // Then the value's length and bytes, and the number of headers, in one write.
        let headerCount = Int64(headers.count)
        switch value {
        case .none:
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: end - buffer.writerIndex) { out in
                putVarlong(headerCount, into: out, at: putVarlong(-1, into: out, at: 0))
            }
        case .some(let value):
            // Straight from the source's memory; writeImmutableBuffer would first copy the ByteBuffer value.
            _ = value.withUnsafeReadableBytes { bytes in
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: end - buffer.writerIndex) { out in
                    let at = putVarlong(Int64(bytes.count), into: out, at: 0)
                    UnsafeMutableRawBufferPointer(rebasing: out[at...]).copyMemory(from: bytes)
                    return putVarlong(headerCount, into: out, at: at + bytes.count)
                }
            }
        }
        headers.withUnsafeBufferPointer { headers in
            for index in headers.indices {
                buffer.writeVarint(Int32(headers[index].key.utf8.count))
                buffer.writeString(headers[index].key)
                writeVarintBytes(headers[index].value, into: &buffer)
            }
        }
    }

    /// The size of a record after its length varint, refused past what an int32 (and so a varint) can say.
    static func recordBodySize(
        timestampDelta: Int64,
        offsetDelta: Int32,
        key: borrowing ByteBuffer?,
        value: borrowing ByteBuffer?,
        headers: borrowing [KafkaRecordHeader]
    ) throws(KafkaWireError) -> Int {
        var size = 1  // attributes
        size += ByteBuffer.varintSize(timestampDelta)
        size += ByteBuffer.varintSize(Int64(offsetDelta))
        size += try varintBytesSize(key, "key")
        size += try varintBytesSize(value, "value")
        size += ByteBuffer.varintSize(Int64(headers.count))
        size += try headers.withUnsafeBufferPointer { (headers) throws(KafkaWireError) -> Int in
            var size = 0
            for index in headers.indices {
                let keySize = headers[index].key.utf8.count
                size += ByteBuffer.varintSize(Int64(keySize)) + keySize
                size += try varintBytesSize(headers[index].value, "header value")
            }
            return size
        }
        guard size <= Int(Int32.max) else {
            throw KafkaWireError(.invalidLength, "record of \(size) bytes is larger than the format allows")
        }
        return size
    }

    private static func varintBytesSize(_ bytes: ByteBuffer?, _ what: String) throws(KafkaWireError) -> Int {
        guard let bytes else { return 1 }  // -1
        guard bytes.readableBytes <= Int(Int32.max) else {
            throw KafkaWireError(.invalidLength, "record \(what) of \(bytes.readableBytes) bytes is too large")
        }
        return ByteBuffer.varintSize(Int64(bytes.readableBytes)) + bytes.readableBytes
    }

    /// Writes a record's length, attributes, timestamp and offset deltas and key length in one write, in
    /// `room` bytes at most.
    private static func writeRecordPrefix(
        _ prefix: (bodySize: Int64, timestampDelta: Int64, offsetDelta: Int64), keyLength: Int64, room: Int,
        into buffer: inout ByteBuffer
    ) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { out in
            var at = putVarlong(prefix.bodySize, into: out, at: 0)
            out[at] = 0  // record attributes: none defined
            at = putVarlong(prefix.timestampDelta, into: out, at: at + 1)
            at = putVarlong(prefix.offsetDelta, into: out, at: at)
            return putVarlong(keyLength, into: out, at: at)
        }
    }

    /// Writes `value` as a zig-zag varlong into `out` at `at`; returns where it ends. (For a value that fits an
    /// int32 this is the same bytes as its zig-zag varint.)
    @inline(__always)
    private static func putVarlong(_ value: Int64, into out: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        var raw = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        var at = at
        while raw >= 0x80 {
            out[at] = UInt8(truncatingIfNeeded: raw) | 0x80
            raw >>= 7
            at += 1
        }
        out[at] = UInt8(raw)
        return at + 1
    }

    private static func writeVarintBytes(_ bytes: borrowing ByteBuffer?, into buffer: inout ByteBuffer) {
        switch bytes {
        case .none:
            buffer.writeVarint(-1)
        case .some(let bytes):
            buffer.writeVarint(Int32(bytes.readableBytes))
            // Straight from the source's memory; writeImmutableBuffer would first copy the ByteBuffer value.
            _ = bytes.withUnsafeReadableBytes { buffer.writeBytes($0) }
        }
    }
}
