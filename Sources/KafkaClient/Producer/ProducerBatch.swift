import KafkaWire
import NIOCore

/// The callback a record's delivery report goes to.
typealias DeliveryCallback = @Sendable (Result<KafkaRecordMetadata, KafkaError>) -> Void

/// Records for one partition travelling together in one record batch.
struct ProducerBatch {
    let partition: KafkaTopicPartition
    var records: [KafkaRecord] = []
    var callbacks: [DeliveryCallback] = []
    /// The bytes this batch holds against the producer's buffer.
    var bytes = 0
    let createdAt: NIODeadline
    /// Set when the batch is first drained: its encoding and sequence stay the same on every retry, so an
    /// idempotent broker can recognise a duplicate.
    var encoded: ByteBuffer?
    var baseSequence: Int32 = -1
    var attempts = 0
    var retryAt: NIODeadline?

    init(partition: KafkaTopicPartition, createdAt: NIODeadline) {
        self.partition = partition
        self.createdAt = createdAt
    }

    var recordCount: Int { records.count }

    /// Delivers the outcome to every record's callback.
    func complete(baseOffset: Int64, logAppendTime: Int64) {
        for (index, record) in records.enumerated() {
            let offset = baseOffset >= 0 ? baseOffset + Int64(index) : -1
            let metadata = KafkaRecordMetadata(
                topic: partition.topic,
                partition: partition.partition,
                offset: offset,
                timestamp: logAppendTime >= 0 ? logAppendTime : record.timestamp
            )
            callbacks[index](.success(metadata))
        }
    }

    func fail(_ error: KafkaError) {
        for callback in callbacks {
            callback(.failure(error))
        }
    }

    /// The bytes a record takes in a batch, near enough for buffer accounting.
    static func estimatedSize(of record: KafkaRecord) -> Int {
        var size = 24 + (record.key?.readableBytes ?? 0) + (record.value?.readableBytes ?? 0)
        for header in record.headers {
            size += 8 + header.key.utf8.count + (header.value?.readableBytes ?? 0)
        }
        return size
    }
}
