import DequeModule
import KafkaWire
import NIOCore

/// The producer's bookkeeping as a value: records waiting per partition, what is in flight, buffer memory, and the
/// producer id and sequence numbers of an idempotent producer. Its methods are events; the producer applies them
/// under a lock and carries out what they return.
///
/// Memory is counted the way it is held: every batch owns a buffer of `batchBytes` (or, for a record larger than
/// that, one sized to it), and `bufferBytes` bounds the buffers of all batches together (open, waiting, in flight,
/// and the free ones kept for reuse) plus each record's bookkeeping beside them (its timestamp and delivery
/// callback). Records are written into their batch's buffer as they come.
struct ProducerAccumulator {
    let configuration: KafkaProducerConfiguration
    private(set) var queues: [KafkaTopicPartition: Deque<ProducerBatch>] = [:]
    /// The send order of each partition's batches that are in flight or waiting to be retried.
    private(set) var unsettled: [KafkaTopicPartition: [Int64]] = [:]
    /// Batches of each partition in flight now (a batch waiting to be retried is unsettled but not in flight).
    private(set) var inFlightBatches: [KafkaTopicPartition: Int] = [:]
    private(set) var inFlightPerNode: [Int32: Int] = [:]
    /// Bytes of every batch buffer there is, free ones included, and of the records' bookkeeping beside them.
    private(set) var bufferedBytes = 0
    /// Standard batch buffers, cleared, waiting for their next batch.
    private var freeBuffers: [ByteBuffer] = []
    var partitionCounts: [String: Int] = [:]
    var leaders: [KafkaTopicPartition: Int32] = [:]
    /// One per topic: a sticky partition belongs to its topic.
    var partitioners: [String: KafkaPartitioner] = [:]
    var producerID: Int64 = -1
    var producerEpoch: Int16 = -1
    private var nextSequence: [KafkaTopicPartition: Int32] = [:]
    private var nextSendOrder: Int64 = 0
    private var memoryWaiters: [@Sendable (Result<Void, KafkaError>) -> Void] = []
    private var flushWaiters: [@Sendable () -> Void] = []
    private(set) var isClosing = false
    private var flushRequested = false

    init(configuration: KafkaProducerConfiguration) {
        self.configuration = configuration
    }

    /// Nothing waiting and nothing in flight.
    var isEmpty: Bool { queues.values.allSatisfy(\.isEmpty) && unsettled.isEmpty }

    /// The size of a standard batch buffer.
    var standardBufferBytes: Int { configuration.batchBytes }

    /// The most bytes a single record may take in a batch (its batch header and bookkeeping included).
    var largestRecordBytes: Int { configuration.bufferBytes }

    // MARK: Memory

    /// A buffer for a new batch of at least `bytes`, or nil when the producer's buffer cannot hold it and `extra`
    /// bytes more. Buffers are counted at their real capacity (the allocator rounds up to a power of two).
    private mutating func takeBuffer(bytes: Int, extra: Int) -> (ByteBuffer, isPooled: Bool)? {
        let pooled = bytes <= standardBufferBytes
        if pooled, !freeBuffers.isEmpty, makeRoom(extra) {
            return (freeBuffers.popLast()!, true)
        }
        let buffer = ByteBufferAllocator().buffer(capacity: pooled ? standardBufferBytes : bytes)
        guard makeRoom(buffer.capacity + extra) else { return nil }
        bufferedBytes += buffer.capacity
        return (buffer, pooled)
    }

    /// Whether `bytes` more fit, once free buffers give way if they must.
    private mutating func makeRoom(_ bytes: Int) -> Bool {
        while bufferedBytes + bytes > configuration.bufferBytes, let free = freeBuffers.popLast() {
            bufferedBytes -= free.capacity
        }
        return bufferedBytes + bytes <= configuration.bufferBytes
    }

    /// Takes a finished batch's buffer back; returns the memory waiters to resume, outside the lock.
    private mutating func returnBuffer(of batch: inout ProducerBatch) -> [@Sendable (Result<Void, KafkaError>) -> Void]
    {
        bufferedBytes -= batch.overheadBytes
        if var buffer = batch.takeBuffer() {
            if batch.isPooled && !isClosing {
                // Keeps the storage when nothing else holds it; otherwise a fresh one of the same capacity.
                buffer.clear()
                freeBuffers.append(buffer)
            } else {
                bufferedBytes -= buffer.capacity
            }
        }
        let waiters = memoryWaiters
        memoryWaiters.removeAll()
        return waiters
    }

    /// Whether a record of `recordBytes` for `partition` would find room now (or the producer is closing, which the
    /// caller learns on its next append).
    func hasRoom(for partition: KafkaTopicPartition, recordBytes: Int) -> Bool {
        if isClosing { return true }
        let freeBytes = freeBuffers.reduce(0) { $0 + $1.capacity }
        let inUse = bufferedBytes - freeBytes
        if queues[partition]?.last?.canHold(recordBytes: recordBytes) == true {
            return inUse + ProducerBatch.recordOverhead <= configuration.bufferBytes
        }
        let needed = KafkaRecordBatch.headerSize + recordBytes
        let capacity = Self.allocatedCapacity(max(needed, standardBufferBytes))
        return inUse + capacity + ProducerBatch.recordOverhead <= configuration.bufferBytes
    }

    /// The capacity the allocator gives a buffer asked for `bytes`: the next power of two, as SwiftNIO's allocator
    /// rounds (`ProducerAccumulatorTests` checks the two agree). Worked out, not asked of the allocator: a
    /// buffer allocated and freed to learn it cost every record a malloc and a free.
    static func allocatedCapacity(_ bytes: Int) -> Int {
        guard bytes > 1 else { return max(0, bytes) }
        let rounded = 1 << (Int.bitWidth - (bytes - 1).leadingZeroBitCount)
        return min(rounded, Int(UInt32.max))
    }

    mutating func waitForMemory(resume: @escaping @Sendable (Result<Void, KafkaError>) -> Void) {
        memoryWaiters.append(resume)
    }

    // MARK: Appending

    enum AppendResult {
        /// The record is in a batch; `wake` says the sender should look again (a batch filled up or a new one
        /// started, which brings a new linger deadline).
        case appended(wake: Bool)
        /// A new batch was needed and the buffer is full: wait for memory, then try again.
        case mustWait
        case closed
        case failed(KafkaError)
    }

    /// Adds a record to its partition's open batch, starting a new batch when it does not fit.
    ///
    /// - Parameter recordBytes: the record's ``KafkaRecordBatchBuilder/maximumRecordSize``.
    mutating func append(
        _ record: KafkaRecord,
        recordBytes: Int,
        to partition: KafkaTopicPartition,
        callback: @escaping DeliveryCallback,
        now: NIODeadline
    ) -> AppendResult {
        if isClosing { return .closed }
        var wake = false
        // The partition's queue is found once and changed in place through the dictionary's values: copying it
        // out and back would copy the open batch on every record.
        var index = queues.index(forKey: partition)
        var fits = false
        if let found = index, let last = queues.values[found].indices.last {
            fits = queues.values[found][last].canHoldInPlace(recordBytes: recordBytes)
        }
        if fits {
            guard makeRoom(ProducerBatch.recordOverhead) else { return .mustWait }
        } else {
            let needed = KafkaRecordBatch.headerSize + recordBytes
            guard let (buffer, isPooled) = takeBuffer(bytes: needed, extra: ProducerBatch.recordOverhead) else {
                return .mustWait
            }
            let batch = ProducerBatch(partition: partition, buffer: consume buffer, isPooled: isPooled, createdAt: now)
            if let found = index {
                if let last = queues.values[found].indices.last {
                    queues.values[found][last].isFull = true
                    batchCompleted(partition)
                }
                queues.values[found].append(batch)
            } else {
                queues[partition] = [batch]
                index = queues.index(forKey: partition)
            }
            wake = true
        }
        let position = index!
        let last = queues.values[position].count - 1
        do {
            try queues.values[position][last].append(record, callback: callback)
            bufferedBytes += ProducerBatch.recordOverhead
        } catch {
            return .failed(KafkaError(.recordTooLarge, "\(partition): \(error)"))
        }
        // A batch that could not take another record like this one goes out without waiting for linger.
        if !queues.values[position][last].canHoldInPlace(recordBytes: recordBytes) {
            queues.values[position][last].isFull = true
            wake = true
        }
        // (With no linger, the sender is woken by a new batch and by each answer, which frees a slot for the next
        // batch: a record joining an open batch has nothing to wake.)
        return .appended(wake: wake)
    }

    /// Chooses a partition for a record without an explicit one.
    mutating func choosePartition(
        topic: String,
        key: ByteBuffer?,
        partitionCount: Int
    ) throws(KafkaError) -> Int32 {
        // Changed in place: one lookup, no copy out and back.
        try partitioners[topic, default: KafkaPartitioner(strategy: configuration.partitioner)].partition(
            forKey: key, partitionCount: partitionCount)
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
    /// partition has fewer than `maximumInFlightBatchesPerPartition` batches out, its leader is known, and the
    /// leader's connection has room. A request carries at most one batch per partition. With `only`, the batches
    /// of that node's partitions alone.
    mutating func drain(now: NIODeadline, only node: Int32? = nil) -> Drain {
        var drain = Drain()
        let sendEverything = isClosing || flushRequested
        // Over a copy of the keys: iterating `queues.keys` itself would keep the dictionary shared while it is
        // changed below, so every queue and batch in it would be copied.
        for partition in Array(queues.keys) {
            // The head's fields are read in place: a copy of the batch would share its buffer, and finishing the
            // batch below would then copy the whole buffer.
            guard let queueCount = queues[partition]?.count, queueCount > 0,
                inFlightBatches[partition, default: 0] < configuration.maximumInFlightBatchesPerPartition
            else { continue }
            let (createdAt, isFull, retryAt) = queues[partition]!.withHead { ($0.createdAt, $0.isFull, $0.retryAt) }
            // A partition without a known leader asks for metadata at once, even while its batch waits.
            guard let leader = leaders[partition] else {
                drain.topicsNeedingMetadata.insert(partition.topic)
                continue
            }
            if let node, leader != node { continue }
            let full = queueCount > 1 || isFull
            var readyAt = full || sendEverything ? now : createdAt + configuration.linger
            if let retryAt { readyAt = max(readyAt, retryAt) }
            guard readyAt <= now else {
                drain.nextDeadline = min(drain.nextDeadline ?? readyAt, readyAt)
                continue
            }
            let inFlight = inFlightPerNode[leader, default: 0]
            let requestsForNode = drain.requests[leader] == nil ? 1 : 0
            guard inFlight + requestsForNode <= configuration.maximumInFlightRequestsPerBroker else { continue }
            var taken = queues[partition]!.removeFirst()
            if taken.sendOrder < 0 {
                taken.sendOrder = nextSendOrder
                nextSendOrder += 1
                if producerID >= 0 {
                    let sequence = nextSequence[partition, default: 0]
                    taken.baseSequence = sequence
                    nextSequence[partition] = sequence &+ Int32(taken.recordCount)
                }
            }
            if taken.attempts == 0 {
                unsettled[partition, default: []].append(taken.sendOrder)
            }
            taken.attempts += 1
            inFlightBatches[partition, default: 0] += 1
            drain.requests[leader, default: []].append(taken)
        }
        for node in drain.requests.keys {
            inFlightPerNode[node, default: 0] += 1
        }
        return drain
    }

    /// Whether a batch of this partition sent before `batch` is still unsettled: a broker that has not got that
    /// one answers a later one of an idempotent producer with OUT_OF_ORDER_SEQUENCE_NUMBER, and the later one is
    /// sent again after it.
    func hasEarlierUnsettled(than batch: ProducerBatch) -> Bool {
        unsettled[batch.partition, default: []].contains { $0 < batch.sendOrder }
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

    /// A batch is done, delivered or failed for good; its buffer goes back to the pool.
    mutating func batchFinished(_ batch: inout ProducerBatch) -> Settled {
        // Every finished batch was in flight: answered, failed for good, or refused before it went out.
        landed(batch)
        settle(batch)
        if queues[batch.partition]?.isEmpty == true { queues[batch.partition] = nil }
        var settled = Settled()
        settled.memoryWaiters = returnBuffer(of: &batch)
        if isEmpty {
            settled.flushWaiters = flushWaiters
            flushWaiters = []
            flushRequested = false
        }
        return settled
    }

    private mutating func landed(_ batch: ProducerBatch) {
        let count = inFlightBatches[batch.partition, default: 1] - 1
        inFlightBatches[batch.partition] = count > 0 ? count : nil
    }

    private mutating func settle(_ batch: ProducerBatch) {
        guard var orders = unsettled[batch.partition] else { return }
        orders.removeAll { $0 == batch.sendOrder }
        unsettled[batch.partition] = orders.isEmpty ? nil : orders
    }

    /// A batch failed in a way worth retrying: it goes back into its partition's queue in its send order (before
    /// every batch sent after it), same encoding and sequence, after the backoff. Returns false when its delivery
    /// timeout has passed instead.
    mutating func retry(_ batch: ProducerBatch, now: NIODeadline) -> Bool {
        guard now < batch.createdAt + configuration.deliveryTimeout else { return false }
        // No longer in flight (so it can go again, whatever the in-flight limit), but still unsettled.
        landed(batch)
        var batch = batch
        batch.retryAt = now + configuration.retryBackoff
        var queue = queues.removeValue(forKey: batch.partition) ?? []
        let index = queue.firstIndex { $0.sendOrder < 0 || $0.sendOrder > batch.sendOrder } ?? queue.endIndex
        queue.insert(batch, at: index)
        queues[batch.partition] = queue
        // It stays unsettled while it waits, so that later batches' out-of-order answers are retried behind it.
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
        let waiting = memoryWaiters
        memoryWaiters.removeAll()
        for buffer in freeBuffers { bufferedBytes -= buffer.capacity }
        freeBuffers.removeAll()
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

extension Deque where Element == ProducerBatch {
    /// Reads the first batch in place, without copying it out.
    fileprivate func withHead<T>(_ body: (borrowing ProducerBatch) -> T) -> T {
        body(self[startIndex])
    }
}
