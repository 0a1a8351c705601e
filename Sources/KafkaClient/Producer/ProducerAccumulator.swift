import DequeModule
import KafkaWire
import NIOCore

/// The producer's bookkeeping as a value: records waiting per partition, what is in flight, buffer memory, and the
/// producer id and sequence numbers of an idempotent producer. Its methods are events; the producer applies them
/// under a lock and carries out what they return.
struct ProducerAccumulator {
    let configuration: KafkaProducerConfiguration
    private(set) var queues: [KafkaTopicPartition: Deque<ProducerBatch>] = [:]
    private(set) var inFlightPartitions: Set<KafkaTopicPartition> = []
    private(set) var inFlightPerNode: [Int32: Int] = [:]
    private(set) var bufferedBytes = 0
    var partitionCounts: [String: Int] = [:]
    var leaders: [KafkaTopicPartition: Int32] = [:]
    /// One per topic: a sticky partition belongs to its topic.
    var partitioners: [String: KafkaPartitioner] = [:]
    var producerID: Int64 = -1
    var producerEpoch: Int16 = -1
    private var nextSequence: [KafkaTopicPartition: Int32] = [:]
    private var memoryWaiters = Deque<(bytes: Int, resume: @Sendable (Result<Void, KafkaError>) -> Void)>()
    private var flushWaiters: [@Sendable () -> Void] = []
    private(set) var isClosing = false
    private var flushRequested = false

    init(configuration: KafkaProducerConfiguration) {
        self.configuration = configuration
    }

    /// Nothing waiting and nothing in flight.
    var isEmpty: Bool { queues.values.allSatisfy(\.isEmpty) && inFlightPartitions.isEmpty }

    // MARK: Memory

    enum ReserveResult {
        case reserved
        case mustWait
        case closed
    }

    /// Takes `bytes` of buffer, or says the caller must wait for room.
    mutating func reserve(bytes: Int) -> ReserveResult {
        if isClosing { return .closed }
        if memoryWaiters.isEmpty && (bufferedBytes + bytes <= configuration.bufferBytes || bufferedBytes == 0) {
            bufferedBytes += bytes
            return .reserved
        }
        return .mustWait
    }

    mutating func waitForMemory(bytes: Int, resume: @escaping @Sendable (Result<Void, KafkaError>) -> Void) {
        memoryWaiters.append((bytes, resume))
    }

    /// Gives buffer back; returns the waiters that now fit, to be resumed outside the lock.
    private mutating func release(bytes: Int) -> [@Sendable (Result<Void, KafkaError>) -> Void] {
        bufferedBytes -= bytes
        var resumed: [@Sendable (Result<Void, KafkaError>) -> Void] = []
        while let waiter = memoryWaiters.first,
            bufferedBytes + waiter.bytes <= configuration.bufferBytes || bufferedBytes == 0
        {
            memoryWaiters.removeFirst()
            bufferedBytes += waiter.bytes
            resumed.append(waiter.resume)
        }
        return resumed
    }

    // MARK: Appending

    /// Adds a record to its partition's open batch. Returns true when the sender should look again (a batch
    /// filled up or a new one started, which brings a new linger deadline).
    mutating func append(
        _ record: KafkaRecord,
        bytes: Int,
        to partition: KafkaTopicPartition,
        callback: @escaping DeliveryCallback,
        now: NIODeadline
    ) -> Bool {
        // The queue is changed in place through the dictionary: copying it out and back would copy the open
        // batch's records and callbacks on every record.
        var wake = false
        let startsBatch: Bool
        let hadBatches: Bool
        if let last = queues[partition]?.last {
            startsBatch = last.encoded != nil || last.bytes + bytes > configuration.batchBytes
            hadBatches = true
        } else {
            startsBatch = true
            hadBatches = false
        }
        if startsBatch {
            if hadBatches { batchCompleted(partition) }
            queues[partition, default: []].append(ProducerBatch(partition: partition, createdAt: now))
            wake = true
        }
        let batchBytes = Self.add(record, bytes: bytes, callback: callback, to: &queues[partition, default: []])
        if batchBytes >= configuration.batchBytes || configuration.linger == .zero { wake = true }
        return wake
    }

    /// Appends to the last batch of `queue`, returning that batch's bytes.
    private static func add(
        _ record: KafkaRecord,
        bytes: Int,
        callback: @escaping DeliveryCallback,
        to queue: inout Deque<ProducerBatch>
    ) -> Int {
        let last = queue.count - 1
        queue[last].records.append(record)
        queue[last].callbacks.append(callback)
        queue[last].bytes += bytes
        return queue[last].bytes
    }

    /// Chooses a partition for a record without an explicit one.
    mutating func choosePartition(
        topic: String,
        key: ByteBuffer?,
        partitionCount: Int
    ) throws(KafkaError) -> Int32 {
        var partitioner = partitioners[topic] ?? KafkaPartitioner(strategy: configuration.partitioner)
        defer { partitioners[topic] = partitioner }
        return try partitioner.partition(forKey: key, partitionCount: partitionCount)
    }

    /// A batch of this partition is done: the sticky partitioner of its topic may move on.
    mutating func batchCompleted(_ partition: KafkaTopicPartition) {
        partitioners[partition.topic]?.batchCompleted(partition: partition.partition)
    }

    // MARK: Draining

    struct Drain {
        /// Batches to send now, by leader node.
        var requests: [Int32: [ProducerBatch]] = [:]
        /// Topics whose leaders are unknown.
        var topicsNeedingMetadata: Set<String> = []
        /// When the next batch becomes ready, if none is ready now.
        var nextDeadline: NIODeadline?
    }

    /// Takes every batch that is ready (full, lingered long enough, or flushing) and may be sent now: its
    /// partition has nothing in flight, its leader is known, and the leader's connection has room.
    mutating func drain(now: NIODeadline) -> Drain {
        var drain = Drain()
        let sendEverything = isClosing || flushRequested
        for (partition, queue) in queues {
            guard var batch = queue.first, !inFlightPartitions.contains(partition) else { continue }
            // A partition without a known leader asks for metadata at once, even while its batch waits.
            guard let leader = leaders[partition] else {
                drain.topicsNeedingMetadata.insert(partition.topic)
                continue
            }
            let lingerDeadline = batch.createdAt + configuration.linger
            let full = queue.count > 1 || batch.bytes >= configuration.batchBytes
            var readyAt = full || sendEverything ? now : lingerDeadline
            if let retryAt = batch.retryAt { readyAt = max(readyAt, retryAt) }
            guard readyAt <= now else {
                drain.nextDeadline = min(drain.nextDeadline ?? readyAt, readyAt)
                continue
            }
            let inFlight = inFlightPerNode[leader, default: 0]
            let requestsForNode = drain.requests[leader] == nil ? 1 : 0
            guard inFlight + requestsForNode <= configuration.maximumInFlightRequestsPerBroker else { continue }
            queues[partition]!.removeFirst()
            if batch.baseSequence < 0 && producerID >= 0 {
                let sequence = nextSequence[partition, default: 0]
                batch.baseSequence = sequence
                nextSequence[partition] = sequence &+ Int32(batch.recordCount)
            }
            batch.attempts += 1
            inFlightPartitions.insert(partition)
            drain.requests[leader, default: []].append(batch)
        }
        for node in drain.requests.keys {
            inFlightPerNode[node, default: 0] += 1
        }
        return drain
    }

    // MARK: Completion

    /// What to do once a request's partitions are settled, outside the lock.
    struct Settled {
        var memoryWaiters: [@Sendable (Result<Void, KafkaError>) -> Void] = []
        var flushWaiters: [@Sendable () -> Void] = []
    }

    /// A request to `node` ended (answered or failed).
    mutating func requestEnded(node: Int32) {
        inFlightPerNode[node, default: 1] -= 1
    }

    /// A batch is done, delivered or failed for good.
    mutating func batchFinished(_ batch: ProducerBatch) -> Settled {
        inFlightPartitions.remove(batch.partition)
        if queues[batch.partition]?.isEmpty == true { queues[batch.partition] = nil }
        var settled = Settled()
        settled.memoryWaiters = release(bytes: batch.bytes)
        if isEmpty {
            settled.flushWaiters = flushWaiters
            flushWaiters = []
            flushRequested = false
        }
        return settled
    }

    /// A batch failed in a way worth retrying: it goes back to the front of its partition, same sequence, after
    /// the backoff. Returns false when its delivery timeout has passed instead.
    mutating func retry(_ batch: ProducerBatch, now: NIODeadline) -> Bool {
        inFlightPartitions.remove(batch.partition)
        guard now < batch.createdAt + configuration.deliveryTimeout else { return false }
        var batch = batch
        batch.retryAt = now + configuration.retryBackoff
        queues[batch.partition, default: []].prepend(batch)
        leaders[batch.partition] = nil
        return true
    }

    // MARK: Flush and close

    /// Asks for everything to be sent now; `done` runs once nothing is left.
    mutating func flush(done: @escaping @Sendable () -> Void) -> Bool {
        if isEmpty { return false }
        flushRequested = true
        flushWaiters.append(done)
        return true
    }

    /// No new records; what is buffered is still sent.
    mutating func close() -> [@Sendable (Result<Void, KafkaError>) -> Void] {
        isClosing = true
        let waiting = memoryWaiters.map(\.resume)
        memoryWaiters.removeAll()
        return waiting
    }

    /// Fails everything not yet in flight (the producer stopped without draining).
    mutating func abandon() -> [ProducerBatch] {
        isClosing = true
        var abandoned: [ProducerBatch] = []
        for queue in queues.values { abandoned.append(contentsOf: queue) }
        queues.removeAll()
        return abandoned
    }
}
