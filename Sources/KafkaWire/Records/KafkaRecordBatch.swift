import NIOCore

/// A Kafka record batch (magic v2), the unit in which Produce requests carry records and Fetch responses return
/// them (implementation.html, "Record Batch").
///
/// ```
/// baseOffset: int64, batchLength: int32, partitionLeaderEpoch: int32, magic: int8, crc: uint32,
/// attributes: int16, lastOffsetDelta: int32, baseTimestamp: int64, maxTimestamp: int64, producerId: int64,
/// producerEpoch: int16, baseSequence: int32, recordsCount: int32, records
/// ```
///
/// Records are held with absolute offsets and timestamps; encoding turns them back into deltas.
public struct KafkaRecordBatch: Hashable, Sendable {
    /// How a batch's timestamps were set, attribute bit 3.
    public enum TimestampType: Int8, Hashable, Sendable {
        /// The producer's timestamps.
        case createTime = 0
        /// The broker's time of appending to the log; every record then carries the batch's `maxTimestamp`.
        case logAppendTime = 1
    }

    /// What a control batch marks, from its control record's key (`version: int16, type: int16`).
    public enum ControlRecordType: Int16, Hashable, Sendable {
        /// The end of an aborted transaction.
        case abort = 0
        /// The end of a committed transaction.
        case commit = 1
    }

    /// The offset of the batch's first record. Producers write 0; the broker assigns offsets.
    public var baseOffset: Int64
    /// The batch's length from `partitionLeaderEpoch` to its end, as it was read or last written; 0 for a batch
    /// that was built in memory and not written yet.
    public internal(set) var batchLength: Int32
    /// The leader epoch of the broker that appended the batch; -1 from producers.
    public var partitionLeaderEpoch: Int32
    /// The format version; this type reads and writes only 2.
    public var magic: Int8 { 2 }
    /// The CRC-32C of everything after the `crc` field, as it was read or last written.
    public internal(set) var crc: UInt32
    /// How the records are compressed, attribute bits 0-2.
    public var compression: KafkaCompressionCodec
    /// Attribute bit 3.
    public var timestampType: TimestampType
    /// Attribute bit 4: the batch belongs to a transaction.
    public var isTransactional: Bool
    /// Attribute bit 5: the batch holds a transaction marker, not application records; consumers skip it.
    public var isControl: Bool
    /// Attribute bit 6: compaction set `baseTimestamp` to the time at which tombstones and markers may be removed.
    public var hasDeleteHorizon: Bool
    /// The offset delta of the batch's last offset. Compaction keeps it when it removes the last records, so it
    /// can be larger than the last record's delta.
    public var lastOffsetDelta: Int32
    /// The timestamp record timestamp deltas are relative to.
    public var baseTimestamp: Int64
    /// The largest timestamp in the batch; every record's timestamp under log-append time.
    public var maxTimestamp: Int64
    /// The idempotent or transactional producer's id; -1 for none.
    public var producerId: Int64
    /// -1 for none.
    public var producerEpoch: Int16
    /// The sequence number of the batch's first record for its producer and partition; -1 for none.
    public var baseSequence: Int32
    /// The records, with absolute offsets and timestamps.
    public var records: [KafkaRecord]

    public init(
        baseOffset: Int64 = 0,
        partitionLeaderEpoch: Int32 = -1,
        compression: KafkaCompressionCodec = .none,
        timestampType: TimestampType = .createTime,
        isTransactional: Bool = false,
        isControl: Bool = false,
        hasDeleteHorizon: Bool = false,
        lastOffsetDelta: Int32,
        baseTimestamp: Int64,
        maxTimestamp: Int64,
        producerId: Int64 = -1,
        producerEpoch: Int16 = -1,
        baseSequence: Int32 = -1,
        records: [KafkaRecord]
    ) {
        self.baseOffset = baseOffset
        self.batchLength = 0
        self.partitionLeaderEpoch = partitionLeaderEpoch
        self.crc = 0
        self.compression = compression
        self.timestampType = timestampType
        self.isTransactional = isTransactional
        self.isControl = isControl
        self.hasDeleteHorizon = hasDeleteHorizon
        self.lastOffsetDelta = lastOffsetDelta
        self.baseTimestamp = baseTimestamp
        self.maxTimestamp = maxTimestamp
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.baseSequence = baseSequence
        self.records = records
    }

    /// The attributes field as written: the codec in bits 0-2 and the flags above it.
    public var attributes: Int16 {
        Self.attributes(
            compression: compression, timestampType: timestampType, isTransactional: isTransactional,
            isControl: isControl, hasDeleteHorizon: hasDeleteHorizon)
    }

    static func attributes(
        compression: KafkaCompressionCodec,
        timestampType: TimestampType,
        isTransactional: Bool,
        isControl: Bool,
        hasDeleteHorizon: Bool
    ) -> Int16 {
        var attributes = Int16(compression.rawValue)
        if timestampType == .logAppendTime { attributes |= 1 << 3 }
        if isTransactional { attributes |= 1 << 4 }
        if isControl { attributes |= 1 << 5 }
        if hasDeleteHorizon { attributes |= 1 << 6 }
        return attributes
    }

    /// The offset of the batch's last offset, which need not be a record's any more after compaction.
    public var lastOffset: Int64 { baseOffset &+ Int64(lastOffsetDelta) }

    /// The offset to fetch after this batch.
    public var nextOffset: Int64 { lastOffset &+ 1 }

    /// Whether the batch comes from an idempotent or transactional producer.
    public var hasProducerId: Bool { producerId != -1 }

    /// What this control batch marks, from its first record's key; nil for a data batch, an empty one, or a key
    /// that is too short or of an unknown type (the Java client treats those as neither abort nor commit too).
    public var controlRecordType: ControlRecordType? {
        guard isControl, let key = records.first?.key, key.readableBytes >= 4,
            let type = key.getInteger(at: key.readerIndex + 2, endianness: .big, as: Int16.self)
        else { return nil }
        return ControlRecordType(rawValue: type)
    }
}
