import NIOCore

extension KafkaRecordBatch {
    /// The fewest bytes a record can take: a length varint and, each one byte, attributes, timestamp delta,
    /// offset delta, null key, null value and header count. A record count is checked against it before anything
    /// is reserved for the records.
    static let minimumRecordSize = 7

    /// Reads one complete batch, checking its CRC and decompressing its records.
    ///
    /// The buffer's reader index moves past the batch only on success.
    /// - Parameter maxDecompressedBytes: a compressed batch whose records decompress to more throws.
    /// - Throws: ``KafkaWireError/Code/unsupportedMagic`` for a magic other than 2,
    ///   ``KafkaWireError/Code/corruptBatch`` for a CRC mismatch or a length too short for a v2 header,
    ///   ``KafkaWireError/Code/truncated`` when the buffer ends before the batch does, and
    ///   ``KafkaWireError/Code/invalidLength``, ``KafkaWireError/Code/invalidVarint`` or the codec's errors for
    ///   malformed records.
    public init(
        from buffer: inout ByteBuffer,
        maxDecompressedBytes: Int = KafkaCompressionCodec.defaultMaxDecompressedBytes
    ) throws(KafkaWireError) {
        var input = buffer
        let baseOffset: Int64 = try input.readKafkaInteger()
        let batchLength: Int32 = try input.readKafkaInteger()
        guard batchLength >= 0 else {
            throw KafkaWireError(.invalidLength, "record batch at offset \(baseOffset) has length \(batchLength)")
        }
        guard var batch = input.readSlice(length: Int(batchLength)) else {
            throw KafkaWireError(
                .truncated, "record batch of \(batchLength) bytes, \(input.readableBytes) bytes left")
        }
        let partitionLeaderEpoch: Int32 = try batch.readKafkaInteger()
        let magic: Int8 = try batch.readKafkaInteger()
        guard magic == 2 else {
            throw KafkaWireError(
                .unsupportedMagic,
                "record batch at offset \(baseOffset) has magic \(magic); only magic 2 (Kafka 0.11 and later) is read")
        }
        guard batchLength >= Self.minimumBatchLength else {
            throw KafkaWireError(
                .corruptBatch,
                "record batch length \(batchLength) is shorter than a v2 batch header (\(Self.minimumBatchLength))")
        }
        let crc: UInt32 = try batch.readKafkaInteger()
        let computedCRC = CRC32C.checksum(batch.readableBytesView)
        guard crc == computedCRC else {
            throw KafkaWireError(
                .corruptBatch,
                "record batch at offset \(baseOffset): stored CRC-32C 0x\(String(crc, radix: 16)), "
                    + "computed 0x\(String(computedCRC, radix: 16))")
        }
        let attributes: Int16 = try batch.readKafkaInteger()
        guard let compression = KafkaCompressionCodec(rawValue: Int8(attributes & 0x07)) else {
            throw KafkaWireError(
                .unsupportedCompression, "record batch at offset \(baseOffset) uses compression id \(attributes & 0x07)"
            )
        }
        self.init(
            baseOffset: baseOffset,
            partitionLeaderEpoch: partitionLeaderEpoch,
            compression: compression,
            timestampType: attributes & (1 << 3) != 0 ? .logAppendTime : .createTime,
            isTransactional: attributes & (1 << 4) != 0,
            isControl: attributes & (1 << 5) != 0,
            hasDeleteHorizon: attributes & (1 << 6) != 0,
            lastOffsetDelta: try batch.readKafkaInteger(),
            baseTimestamp: try batch.readKafkaInteger(),
            maxTimestamp: try batch.readKafkaInteger(),
            producerId: try batch.readKafkaInteger(),
            producerEpoch: try batch.readKafkaInteger(),
            baseSequence: try batch.readKafkaInteger(),
            records: []
        )
        self.batchLength = batchLength
        self.crc = crc
        let recordsCount: Int32 = try batch.readKafkaInteger()
        guard recordsCount >= 0 else {
            throw KafkaWireError(.invalidLength, "record batch at offset \(baseOffset) has \(recordsCount) records")
        }
        var recordBytes =
            compression == .none ? batch : try compression.decompress(batch, maxDecompressedBytes: maxDecompressedBytes)
        self.records = try readRecords(count: Int(recordsCount), from: &recordBytes)
        buffer = input
    }

    private func readRecords(count: Int, from bytes: inout ByteBuffer) throws(KafkaWireError) -> [KafkaRecord] {
        guard count <= bytes.readableBytes / Self.minimumRecordSize else {
            throw KafkaWireError(
                .invalidLength,
                "record batch at offset \(baseOffset) declares \(count) records in \(bytes.readableBytes) bytes")
        }
        var records: [KafkaRecord] = []
        records.reserveCapacity(count)
        for index in 0..<count {
            let length = try bytes.readVarint()
            guard length >= 0 else {
                throw KafkaWireError(.invalidLength, "record \(index) has length \(length)")
            }
            guard var body = bytes.readSlice(length: Int(length)) else {
                throw KafkaWireError(
                    .truncated, "record \(index) of \(length) bytes, \(bytes.readableBytes) bytes left in the batch")
            }
            records.append(try readRecord(from: &body, index: index))
            guard body.readableBytes == 0 else {
                throw KafkaWireError(
                    .invalidLength, "record \(index) declares \(length) bytes; its fields leave \(body.readableBytes)")
            }
        }
        guard bytes.readableBytes == 0 else {
            throw KafkaWireError(
                .invalidLength,
                "record batch at offset \(baseOffset) declares \(count) records; \(bytes.readableBytes) bytes follow")
        }
        return records
    }

    /// Reads one record's fields after its length.
    private func readRecord(from body: inout ByteBuffer, index: Int) throws(KafkaWireError) -> KafkaRecord {
        _ = try body.readKafkaInteger(as: Int8.self)  // record attributes: none defined
        let timestampDelta = try body.readVarlong()
        let offsetDelta = try body.readVarint()
        let key = try Self.readVarintBytes(from: &body, field: "key", record: index)
        let value = try Self.readVarintBytes(from: &body, field: "value", record: index)
        let headerCount = try body.readVarint()
        // A header takes at least two bytes (empty key, null value).
        guard headerCount >= 0, Int(headerCount) <= body.readableBytes / 2 else {
            throw KafkaWireError(
                .invalidLength, "record \(index) declares \(headerCount) headers in \(body.readableBytes) bytes")
        }
        var headers: [KafkaRecordHeader] = []
        headers.reserveCapacity(Int(headerCount))
        for _ in 0..<headerCount {
            let keyLength = try body.readVarint()
            guard keyLength >= 0 else {
                throw KafkaWireError(.invalidLength, "header key of record \(index) has length \(keyLength)")
            }
            // Invalid UTF-8 is repaired with U+FFFD rather than refused, as the Java client does.
            guard let headerKey = body.readString(length: Int(keyLength)) else {
                throw KafkaWireError(
                    .truncated, "header key of \(keyLength) bytes, \(body.readableBytes) bytes left in record \(index)")
            }
            let headerValue = try Self.readVarintBytes(from: &body, field: "header value", record: index)
            headers.append(KafkaRecordHeader(key: headerKey, value: headerValue))
        }
        return KafkaRecord(
            offset: baseOffset &+ Int64(offsetDelta),
            timestamp: timestampType == .logAppendTime ? maxTimestamp : baseTimestamp &+ timestampDelta,
            key: key,
            value: value,
            headers: headers
        )
    }

    /// A varint length (-1 for null) and that many bytes, as a slice of `body`.
    ///
    /// `field` and `record` name the value in errors; nothing is formatted unless one is thrown.
    private static func readVarintBytes(
        from body: inout ByteBuffer,
        field: StaticString,
        record: Int
    ) throws(KafkaWireError) -> ByteBuffer? {
        let length = try body.readVarint()
        if length == -1 { return nil }
        guard length >= 0 else {
            throw KafkaWireError(.invalidLength, "\(field) of record \(record) has length \(length)")
        }
        guard let bytes = body.readSlice(length: Int(length)) else {
            throw KafkaWireError(
                .truncated, "\(field) of record \(record): \(length) bytes, \(body.readableBytes) bytes left")
        }
        return bytes
    }
}
