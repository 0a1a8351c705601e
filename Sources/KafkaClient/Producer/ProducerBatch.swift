import KafkaWire
import NIOCore

/// The callback a record's delivery report goes to.
typealias DeliveryCallback = @Sendable (Result<KafkaRecordMetadata, KafkaError>) -> Void

/// A record's delivery callback, as a batch keeps it.
struct Delivery {
    let callback: DeliveryCallback
}

/// Records for one partition travelling together in one record batch.
///
/// Records are written into the batch's buffer as they are appended (the caller's key and value buffers are
/// copied once and can go); the batch keeps only each record's timestamp and callback beside it.
struct ProducerBatch {
    /// What each record costs beside its bytes in the batch's buffer: its timestamp and callback slots (with room
    /// for the arrays' growth) and the callback's captured context, which the producer holds until delivery.
    static let recordOverhead = 96

    let partition: KafkaTopicPartition
    /// The batch being written; nil once it is finished in place into `encoded`.
    private(set) var builder: KafkaRecordBatchBuilder?
    private(set) var timestamps: [Int64] = []
    /// Each in a struct of its own: a function stored straight in an array is kept in the array's generic form,
    /// which takes an allocation per record to convert it.
    private(set) var callbacks: [Delivery] = []
    /// The bytes this batch holds against the producer's buffer: its buffer's capacity.
    let reservedBytes: Int
    /// Whether its buffer is a standard batch-sized one, which goes back to the producer's pool after delivery.
    let isPooled: Bool
    let createdAt: NIODeadline
    /// Set when the batch is first sent: its encoding and sequence stay the same on every retry, so an
    /// idempotent broker can recognise a duplicate.
    var encoded: ByteBuffer?
    var baseSequence: Int32 = -1
    /// The order in which the partition's batches were first sent; a retried batch goes back in this order.
    var sendOrder: Int64 = -1
    var attempts = 0
    var retryAt: NIODeadline?
    /// Set when a later record did not fit, or the batch reached its size.
    var isFull = false

    init(partition: KafkaTopicPartition, buffer: consuming ByteBuffer, isPooled: Bool, createdAt: NIODeadline) {
        self.partition = partition
        self.reservedBytes = buffer.capacity
        self.isPooled = isPooled
        self.createdAt = createdAt
        self.builder = KafkaRecordBatchBuilder(buffer: consume buffer)
        // Room for a typical batch's bookkeeping at once, rather than growing it record by record.
        timestamps.reserveCapacity(16)
        callbacks.reserveCapacity(16)
    }

    var recordCount: Int { timestamps.count }

    /// The bytes used of the buffer.
    var usedBytes: Int {
        builder?.sizeInBytes ?? encoded?.readableBytes ?? 0
    }

    /// What the records' bookkeeping beside the buffer takes, counted against the producer's buffer too.
    var overheadBytes: Int { timestamps.count * Self.recordOverhead }

    /// Whether a record of at most `recordBytes` (``KafkaRecordBatchBuilder/maximumRecordSize``) still fits.
    func canHold(recordBytes: Int) -> Bool {
        builder != nil && encoded == nil && !isFull && usedBytes + recordBytes <= reservedBytes
    }

    /// ``canHold(recordBytes:)`` for a batch reached through a `Deque`: the deque's subscript getter copies the
    /// whole batch (a retain and a release of each of its buffers and arrays), its modify accessor does not.
    mutating func canHoldInPlace(recordBytes: Int) -> Bool {
        canHold(recordBytes: recordBytes)
    }

    mutating func append(_ record: KafkaRecord, callback: @escaping DeliveryCallback) throws(KafkaWireError) {
        try builder!.append(timestamp: record.timestamp, key: record.key, value: record.value, headers: record.headers)
        timestamps.append(record.timestamp)
        callbacks.append(Delivery(callback: callback))
    }

    /// Completes the batch's encoding once, before it is first sent: the header and CRC in the batch's own
    /// buffer, or a compressed copy (the buffer then stays with the batch until it is settled).
    mutating func finishEncoding(
        compression: KafkaCompressionCodec,
        producerId: Int64,
        producerEpoch: Int16
    ) throws(KafkaWireError) {
        guard encoded == nil else { return }
        if compression == .none {
            encoded = try builder!.finish(
                producerId: producerId, producerEpoch: producerEpoch, baseSequence: baseSequence)
            builder = nil
        } else {
            encoded = try builder!.finish(
                compressingWith: compression, producerId: producerId, producerEpoch: producerEpoch,
                baseSequence: baseSequence)
        }
    }

    /// Takes the batch's own buffer out, for the producer's pool.
    mutating func takeBuffer() -> ByteBuffer? {
        if let builder = builder.take() { return builder.buffer }
        return encoded.take()
    }

    /// Delivers the outcome to every record's callback.
    func complete(baseOffset: Int64, logAppendTime: Int64) {
        for index in callbacks.indices {
            let metadata = KafkaRecordMetadata(
                topic: partition.topic,
                partition: partition.partition,
                offset: baseOffset >= 0 ? baseOffset + Int64(index) : -1,
                timestamp: logAppendTime >= 0 ? logAppendTime : timestamps[index]
            )
            callbacks[index].callback(.success(metadata))
        }
    }

    func fail(_ error: KafkaError) {
        for delivery in callbacks {
            delivery.callback(.failure(error))
        }
    }
}
