import KafkaWire
import NIOCore

/// How a producer batches, acknowledges and retries.
public struct KafkaProducerConfiguration: Sendable {
    /// Which replicas must have a record before the broker acknowledges it.
    public enum Acks: Int16, Sendable {
        /// The broker does not answer; the offset of a delivered record is unknown (-1).
        case none = 0
        /// The partition leader has written the record.
        case leader = 1
        /// Every in-sync replica has the record.
        case all = -1
    }

    /// Default: `.all`.
    public var acks: Acks = .all
    /// Whether the producer takes a producer id and numbers its batches, so the broker drops duplicates of a
    /// retried batch. Requires `acks = .all`. Default: false.
    public var idempotent: Bool = false
    /// How long a batch waits for more records before it is sent. Default: 5 ms.
    public var linger: TimeAmount = .milliseconds(5)
    /// The size of a batch's buffer: a partition's batch is sent once the next record would not fit. Default:
    /// 256 KiB.
    public var batchBytes: Int = 256 * 1024
    /// The most memory the producer's batches take together (waiting, in flight, or kept for reuse): every batch
    /// holds a buffer of `batchBytes` (a larger record, one of its own size), and every record 96 bytes of
    /// bookkeeping beside it (its timestamp and delivery callback). `send` and `produce` wait for room
    /// beyond it. A producer writing to many partitions at once needs `bufferBytes` of at least `batchBytes` per
    /// partition to keep every partition's batch open. Default: 32 MiB.
    public var bufferBytes: Int = 32 * 1024 * 1024
    /// The largest single record, encoded. Default: 1 MiB.
    public var maximumRecordBytes: Int = 1024 * 1024
    /// Produce requests in flight per broker connection. Default: 5.
    public var maximumInFlightRequestsPerBroker: Int = 5
    /// Batches of one partition in flight at once. An idempotent producer keeps its batches in order whatever
    /// this is (the broker refuses a batch whose predecessor it has not got, and the producer sends it again
    /// behind that one). Without idempotence, more than one lets a retried batch land after a later one, as
    /// with the Java client's and librdkafka's `max.in.flight`; set 1 for strict order then. Default: 5.
    public var maximumInFlightBatchesPerPartition: Int = 5
    /// Record batch compression. Default: none.
    public var compression: KafkaCompressionCodec = .none
    /// How long a record may wait for its acknowledgement, retries included, before it fails. Default: 120 s.
    public var deliveryTimeout: TimeAmount = .seconds(120)
    /// The wait before a batch that failed with a retriable error is sent again. Default: 100 ms.
    public var retryBackoff: TimeAmount = .milliseconds(100)
    /// How long the broker may wait for replicas (acks all). Default: 30 s.
    public var requestTimeout: TimeAmount = .seconds(30)
    /// How keyless records are spread. Keyed records always go to murmur2(key) % partitions. Default: sticky.
    public var partitioner: KafkaPartitioner.Strategy = .sticky

    public init() {}
}

/// A record to produce.
public struct KafkaProducerRecord: Sendable {
    public var topic: String
    /// The partition to write to; nil lets the partitioner choose.
    public var partition: Int32?
    public var key: ByteBuffer?
    public var value: ByteBuffer?
    public var headers: [KafkaRecordHeader]
    /// Milliseconds since the epoch; nil means now.
    public var timestamp: Int64?

    public init(
        topic: String,
        partition: Int32? = nil,
        key: ByteBuffer? = nil,
        value: ByteBuffer?,
        headers: [KafkaRecordHeader] = [],
        timestamp: Int64? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }
}

/// Where a produced record landed.
public struct KafkaRecordMetadata: Hashable, Sendable {
    public var topic: String
    public var partition: Int32
    /// The record's offset; -1 with acks none.
    public var offset: Int64
    /// The record's timestamp (the broker's log-append time when the topic uses it).
    public var timestamp: Int64

    public init(topic: String, partition: Int32, offset: Int64, timestamp: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
    }
}
