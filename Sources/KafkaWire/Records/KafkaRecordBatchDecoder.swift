import NIOCore

/// Reads the record batches in the `records` bytes of one partition of a Fetch response.
///
/// A broker fills a response up to its size limit and may cut the last batch short; such a partial trailing
/// batch is not an error: ``next()`` returns nil before it and ``unreadBytes`` says how much was left. Every
/// complete batch is checked (CRC, lengths, record count) and any malformed one throws a ``KafkaWireError``.
///
/// ```swift
/// var decoder = KafkaRecordBatchDecoder(partition.records ?? ByteBuffer())
/// while let batch = try decoder.next() { ... }
/// ```
public struct KafkaRecordBatchDecoder: Sendable {
    /// The most bytes one compressed batch may decompress to.
    /// Default: ``KafkaCompressionCodec/defaultMaxDecompressedBytes`` (64 MiB).
    public var maxDecompressedBytes: Int

    private var buffer: ByteBuffer

    /// - Parameter records: the bytes of zero or more batches, typically a Fetch response partition's `records`.
    public init(
        _ records: ByteBuffer,
        maxDecompressedBytes: Int = KafkaCompressionCodec.defaultMaxDecompressedBytes
    ) {
        self.buffer = records
        self.maxDecompressedBytes = maxDecompressedBytes
    }

    /// Bytes not read yet. Once ``next()`` has returned nil, these are a partial trailing batch (or nothing).
    public var unreadBytes: Int { buffer.readableBytes }

    /// The next complete batch, or nil when the bytes left hold none (they are empty or a partial batch).
    ///
    /// After it throws, the decoder is finished and returns nil: no batch after a malformed one can be trusted
    /// to start where the malformed one says it ends.
    public mutating func next() throws(KafkaWireError) -> KafkaRecordBatch? {
        do {
            guard try nextBatchIsComplete() else { return nil }
            return try KafkaRecordBatch(from: &buffer, maxDecompressedBytes: maxDecompressedBytes)
        } catch {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            throw error
        }
    }

    /// Decodes every complete batch in `records`, ignoring a partial trailing one.
    public static func decode(
        _ records: ByteBuffer,
        maxDecompressedBytes: Int = KafkaCompressionCodec.defaultMaxDecompressedBytes
    ) throws(KafkaWireError) -> [KafkaRecordBatch] {
        var decoder = KafkaRecordBatchDecoder(records, maxDecompressedBytes: maxDecompressedBytes)
        var batches: [KafkaRecordBatch] = []
        while let batch = try decoder.next() {
            batches.append(batch)
        }
        return batches
    }

    /// The offset to fetch after these records, read from the batch headers alone (base offset and last offset
    /// delta of each complete batch), without decoding or checking any record: what
    /// ``KafkaFetchedRecords/nextFetchOffset`` gives once the batches are decoded, known early enough for a consumer
    /// to send its next fetch while it decodes this one. Stops at the first batch it cannot read.
    public static func nextFetchOffset(in records: ByteBuffer, fetchOffset: Int64) -> Int64 {
        var decoder = KafkaRecordBatchDecoder(records)
        var next = fetchOffset
        while (try? decoder.nextBatchIsComplete()) == true {
            let start = decoder.buffer.readerIndex
            guard
                let baseOffset = decoder.buffer.getInteger(at: start, endianness: .big, as: Int64.self),
                let length = decoder.buffer.getInteger(
                    at: start + KafkaRecordBatch.batchLengthOffset, endianness: .big, as: Int32.self),
                let lastOffsetDelta = decoder.buffer.getInteger(
                    at: start + KafkaRecordBatch.lastOffsetDeltaOffset, endianness: .big, as: Int32.self)
            else { break }
            next = max(next, baseOffset &+ Int64(lastOffsetDelta) &+ 1)
            decoder.buffer.moveReaderIndex(forwardBy: KafkaRecordBatch.logOverhead + Int(length))
        }
        return next
    }

    /// Whether a whole batch follows. Like the Java client, it refuses a bad length or magic as soon as their bytes
    /// are there, even in a batch that is cut short, and treats anything else cut short as the end.
    private func nextBatchIsComplete() throws(KafkaWireError) -> Bool {
        let start = buffer.readerIndex
        guard
            let length = buffer.getInteger(
                at: start + KafkaRecordBatch.batchLengthOffset, endianness: .big, as: Int32.self)
        else { return false }
        guard length >= 0 else {
            throw KafkaWireError(.invalidLength, "record batch has length \(length)")
        }
        // The magic byte is the fifth byte that batchLength counts.
        if length >= 5, let magic = buffer.getInteger(at: start + KafkaRecordBatch.magicOffset, as: Int8.self),
            magic != 2
        {
            throw KafkaWireError(
                .unsupportedMagic, "record batch has magic \(magic); only magic 2 (Kafka 0.11 and later) is read")
        }
        guard length >= KafkaRecordBatch.minimumBatchLength else {
            throw KafkaWireError(
                .corruptBatch,
                "record batch length \(length) is shorter than a v2 batch header (\(KafkaRecordBatch.minimumBatchLength))"
            )
        }
        return buffer.readableBytes - KafkaRecordBatch.logOverhead >= Int(length)
    }
}
