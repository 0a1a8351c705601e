import KafkaWire
import NIOCore

/// How a consumer fetches and where it starts.
public struct KafkaConsumerConfiguration: Sendable {
    /// Where to start a partition that has no committed offset (or whose offset is out of range).
    public enum OffsetReset: Sendable, Hashable {
        case earliest
        case latest
        /// Fail instead: the records sequence throws `OFFSET_OUT_OF_RANGE`.
        case none
    }

    /// Default: `.latest`, as Kafka's clients.
    public var autoOffsetReset: OffsetReset = .latest
    /// Default: read uncommitted.
    public var isolationLevel: KafkaIsolationLevel = .readUncommitted
    /// How long the broker may hold a fetch waiting for `fetchMinBytes`. Default: 500 ms.
    public var fetchMaxWait: TimeAmount = .milliseconds(500)
    /// Default: 1 byte.
    public var fetchMinBytes: Int32 = 1
    /// The most bytes one fetch response may carry. Default: 50 MiB.
    public var fetchMaxBytes: Int32 = 50 * 1024 * 1024
    /// The most bytes per partition in one fetch response. Default: 1 MiB.
    public var maxPartitionFetchBytes: Int32 = 1024 * 1024
    /// Fetched records held for the application; no new fetch starts while this many bytes wait. Default: 32 MiB.
    public var bufferBytes: Int = 32 * 1024 * 1024
    /// The wait after a failed fetch before the next. Default: 100 ms.
    public var retryBackoff: TimeAmount = .milliseconds(100)
    /// Consumer-group membership: the group assigns partitions to the consumers subscribed with `subscribe`.
    /// nil for a consumer that assigns partitions itself with `assign`. Default: nil.
    public var group: KafkaConsumerGroupConfiguration?
    /// Told when the group takes partitions away or hands them over. Default: none.
    public var rebalanceListener: (any KafkaRebalanceListener)?

    public init() {}
}

/// A record fetched from Kafka.
public struct KafkaConsumerRecord: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    /// Milliseconds since the epoch.
    public var timestamp: Int64
    public var timestampType: KafkaRecordBatch.TimestampType
    public var key: ByteBuffer?
    public var value: ByteBuffer?
    public var headers: [KafkaRecordHeader]

    public init(
        topic: String,
        partition: Int32,
        offset: Int64,
        timestamp: Int64,
        timestampType: KafkaRecordBatch.TimestampType,
        key: ByteBuffer?,
        value: ByteBuffer?,
        headers: [KafkaRecordHeader]
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
        self.timestampType = timestampType
        self.key = key
        self.value = value
        self.headers = headers
    }

    public var topicPartition: KafkaTopicPartition { KafkaTopicPartition(topic: topic, partition: partition) }

    var estimatedBytes: Int { 64 + (key?.readableBytes ?? 0) + (value?.readableBytes ?? 0) }
}

/// Hears about a consumer group's rebalances.
public protocol KafkaRebalanceListener: Sendable {
    /// Called before the consumer gives up these partitions; the records already handed out are the last ones
    /// of them this member sees, and a commit here keeps the next owner from reading them again.
    func partitionsRevoked(_ partitions: [KafkaTopicPartition]) async
    /// Called once the consumer owns these partitions, before any of their records is handed out.
    func partitionsAssigned(_ partitions: [KafkaTopicPartition]) async
}
