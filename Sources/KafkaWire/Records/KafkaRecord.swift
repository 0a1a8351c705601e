import NIOCore

/// One record of a Kafka record batch, with its offset and timestamp resolved to absolute values.
///
/// Decoded from an uncompressed batch, `key`, `value` and header values are slices of the bytes the batch was read
/// from, not copies; from a compressed batch they are slices of the batch's decompressed records.
public struct KafkaRecord: Hashable, Sendable {
    /// The record's offset in its partition: the batch's base offset plus the record's offset delta.
    /// When encoding a new batch for a producer this is ignored: the broker assigns offsets.
    public var offset: Int64
    /// Milliseconds since the Unix epoch: the batch's base timestamp plus the record's timestamp delta, or the
    /// batch's max timestamp when the batch carries log-append time.
    public var timestamp: Int64
    /// The record's key; nil is a null key, distinct from an empty one.
    public var key: ByteBuffer?
    /// The record's value; nil is a null value (a tombstone on a compacted topic), distinct from an empty one.
    public var value: ByteBuffer?
    /// The record's headers, in order.
    public var headers: [KafkaRecordHeader]

    public init(
        offset: Int64 = 0,
        timestamp: Int64,
        key: ByteBuffer? = nil,
        value: ByteBuffer?,
        headers: [KafkaRecordHeader] = []
    ) {
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
        self.headers = headers
    }
}
