import NIOCore

/// One header of a Kafka record: a string key and an optional byte value.
public struct KafkaRecordHeader: Hashable, Sendable {
    /// The header's key. Kafka requires a key; it need not be unique within a record.
    public var key: String
    /// The header's value; nil is a null value, distinct from an empty one.
    public var value: ByteBuffer?

    public init(key: String, value: ByteBuffer?) {
        self.key = key
        self.value = value
    }
}
