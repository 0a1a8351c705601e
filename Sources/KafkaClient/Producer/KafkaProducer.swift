import KafkaWire
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// Produces records to Kafka: batches them per partition, sends batches to partition leaders, retries what can be
/// retried, and reports each record's partition and offset.
///
/// The producer is a `Service`: its `run()` is the sender, and must be running for records to leave. On graceful
/// shutdown (or `close()`) it stops taking records, delivers what it holds, and returns.
///
/// Memory is bounded by `bufferBytes`: beyond it, `send` and `produce` wait until acknowledgements free room.
public final class KafkaProducer: Service, Sendable {
    public let cluster: KafkaCluster
    public let configuration: KafkaProducerConfiguration
    private let state: AdaptiveLockedValue<ProducerAccumulator>
    private let wakeups: AsyncStream<Void>
    private let wakeup: AsyncStream<Void>.Continuation
    private let wakeTimer: NIOLockedValueBox<(deadline: NIODeadline, task: Scheduled<Void>)?>
    /// Topics whose leaders are being looked up.
    private let refreshing = NIOLockedValueBox<Set<String>>([])
    /// The connection last used for each node's requests, so that a new batch can start a chain of requests on
    /// that connection's event loop at once (``sendOrWake(_:)``), without the sender.
    private let nodeConnections = NIOLockedValueBox<[Int32: KafkaConnection]>([:])
    /// Batches a chain started outside the sender left after a failed request: the sender sends them on.
    private let orphans = NIOLockedValueBox<[(node: Int32, batches: BatchHandoff)]>([])
    private let logger: Logger

    public init(cluster: KafkaCluster, configuration: KafkaProducerConfiguration = .init()) throws(KafkaError) {
        if configuration.idempotent && configuration.acks != .all {
            throw KafkaError(.invalidConfiguration, "an idempotent producer needs acks all")
        }
        guard configuration.batchBytes > 0,
            configuration.bufferBytes >= ProducerAccumulator.allocatedCapacity(configuration.batchBytes)
        else {
            throw KafkaError(
                .invalidConfiguration,
                "bufferBytes must hold at least one batch buffer of batchBytes (rounded up to a power of two)")
        }
        guard configuration.maximumInFlightBatchesPerPartition > 0, configuration.maximumInFlightRequestsPerBroker > 0
        else {
            throw KafkaError(.invalidConfiguration, "in-flight limits must be positive")
        }
        self.cluster = cluster
        self.configuration = configuration
        self.state = AdaptiveLockedValue(ProducerAccumulator(configuration: configuration))
        (wakeups, wakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.wakeTimer = NIOLockedValueBox(nil)
        self.logger = cluster.logger
    }

    // MARK: Producing

    /// Produces a record and waits for the broker's acknowledgement.
    public func send(_ record: KafkaProducerRecord) async throws(KafkaError) -> KafkaRecordMetadata {
        let (prepared, partition, bytes) = try await prepare(record)
        // The promise is only ever succeeded, with the outcome as its value: by the delivery report, or here when
        // the record never got into a batch.
        let delivered = cluster.eventLoopGroup.any().makePromise(of: Result<KafkaRecordMetadata, KafkaError>.self)
        do {
            try await append(prepared, recordBytes: bytes, to: partition) { delivered.succeed($0) }
        } catch {
            delivered.succeed(.failure(error))
        }
        let result = try? await delivered.futureResult.get()
        return try (result ?? .failure(KafkaError(.shutDown, "the producer stopped"))).get()
    }

    /// Produces a record without waiting for its acknowledgement: returns once the record is buffered (waiting
    /// while the buffer is full), and reports the outcome to `onDelivery` later, on an I/O thread.
    public func produce(
        _ record: KafkaProducerRecord,
        onDelivery: @escaping @Sendable (Result<KafkaRecordMetadata, KafkaError>) -> Void
    ) async throws(KafkaError) {
        let (prepared, partition, bytes) = try await prepare(record)
        try await append(prepared, recordBytes: bytes, to: partition, callback: onDelivery)
    }

    /// Produces a record without waiting at all when that can be done: its topic's partitions are known and the
    /// buffer has room. Returns false and takes nothing when the record would have to wait (for metadata or for
    /// room; `produce` or `send` then waits); throws when the record cannot be produced as it is. For callers on
    /// an event loop, which must not wait: `onDelivery` runs later, on an I/O thread.
    public func produceNow(
        _ record: KafkaProducerRecord,
        onDelivery: @escaping @Sendable (Result<KafkaRecordMetadata, KafkaError>) -> Void
    ) throws(KafkaError) -> Bool {
        let bytes = try checkedSize(record)
        let kafkaRecord = KafkaRecord(
            timestamp: record.timestamp ?? currentTimeMilliseconds(), key: record.key, value: record.value,
            headers: record.headers)
        let outcome = state.withLockedValue {
            state -> Result<(ProducerAccumulator.AppendResult, KafkaTopicPartition)?, KafkaError> in
            guard let count = state.partitionCounts[record.topic] else { return .success(nil) }
            let partition: Int32
            do throws(KafkaError) {
                partition = try Self.partition(for: record, of: count, in: &state)
            } catch {
                return .failure(error)
            }
            let topicPartition = KafkaTopicPartition(topic: record.topic, partition: partition)
            return .success(
                (
                    state.append(
                        kafkaRecord, recordBytes: bytes, to: topicPartition, callback: onDelivery, now: .now()),
                    topicPartition
                ))
        }
        guard let (appended, partition) = try outcome.get() else { return false }
        switch appended {
        case .mustWait:
            return false
        case .appended(let shouldWake):
            if shouldWake { sendOrWake(partition) }
            return true
        case .closed:
            throw KafkaError(.shutDown, "the producer is closed")
        case .failed(let error):
            throw error
        }
    }

    /// Sends everything buffered now, without waiting for linger, and returns once all of it is acknowledged or
    /// has failed.
    public func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waiting = state.withLockedValue { $0.flush { continuation.resume() } }
            if waiting { wake() } else { continuation.resume() }
        }
    }

    /// Stops taking records; `run()` delivers what is buffered and returns.
    public func close() {
        let waiters = state.withLockedValue { $0.close() }
        for waiter in waiters { waiter(.failure(KafkaError(.shutDown, "the producer is closing"))) }
        wake()
    }

    /// The record as a batch holds it, its partition, and the most bytes it takes in a batch.
    private func prepare(
        _ record: KafkaProducerRecord
    ) async throws(KafkaError) -> (KafkaRecord, KafkaTopicPartition, Int) {
        let kafkaRecord = KafkaRecord(
            timestamp: record.timestamp ?? currentTimeMilliseconds(),
            key: record.key,
            value: record.value,
            headers: record.headers
        )
        let bytes = try checkedSize(record)
        var partitionCount = state.withLockedValue { $0.partitionCounts[record.topic] }
        if partitionCount == nil {
            let metadata = try await cluster.metadata(for: record.topic)
            learn(metadata)
            partitionCount = metadata.partitionCount
        }
        let count = partitionCount ?? 0
        let chosen = state.withLockedValue { state in
            Result { () throws(KafkaError) -> Int32 in try Self.partition(for: record, of: count, in: &state) }
        }
        return (kafkaRecord, KafkaTopicPartition(topic: record.topic, partition: try chosen.get()), bytes)
    }

    /// The record's partition: its own when it names one (checked against the topic's `count`), else the
    /// partitioner's choice.
    private static func partition(
        for record: KafkaProducerRecord, of count: Int, in state: inout ProducerAccumulator
    ) throws(KafkaError) -> Int32 {
        guard let explicit = record.partition else {
            return try state.choosePartition(topic: record.topic, key: record.key, partitionCount: count)
        }
        guard explicit >= 0, Int(explicit) < count else {
            throw KafkaError.broker(
                .unknownTopicOrPartition,
                "partition \(explicit) of topic '\(record.topic)', which has \(count) partitions"
            )
        }
        return explicit
    }

    /// The most bytes the record takes in a batch; throws when it is larger than the producer takes.
    private func checkedSize(_ record: KafkaProducerRecord) throws(KafkaError) -> Int {
        let bytes: Int
        do {
            bytes = try KafkaRecordBatchBuilder.maximumRecordSize(
                key: record.key, value: record.value, headers: record.headers)
        } catch {
            throw KafkaError(.recordTooLarge, "\(error)")
        }
        guard bytes <= configuration.maximumRecordBytes else {
            throw KafkaError(
                .recordTooLarge,
                "a record of \(bytes) bytes is larger than maximumRecordBytes \(configuration.maximumRecordBytes)"
            )
        }
        let batchBytes =
            ProducerAccumulator.allocatedCapacity(KafkaRecordBatch.headerSize + bytes) + ProducerBatch.recordOverhead
        guard batchBytes <= configuration.bufferBytes else {
            throw KafkaError(
                .recordTooLarge,
                "a batch of one record of \(bytes) bytes needs \(batchBytes) bytes, more than bufferBytes "
                    + "\(configuration.bufferBytes)"
            )
        }
        return bytes
    }

    /// Puts the record into its partition's batch, waiting while the producer's buffer has no room for a new
    /// batch.
    private func append(
        _ record: KafkaRecord,
        recordBytes: Int,
        to partition: KafkaTopicPartition,
        callback: @escaping DeliveryCallback
    ) async throws(KafkaError) {
        while true {
            let result = state.withLockedValue {
                $0.append(record, recordBytes: recordBytes, to: partition, callback: callback, now: .now())
            }
            switch result {
            case .appended(let shouldWake):
                if shouldWake { sendOrWake(partition) }
                return
            case .closed:
                throw KafkaError(.shutDown, "the producer is closed")
            case .failed(let error):
                throw error
            case .mustWait:
                // Room may be freed between the look above and the wait, so the wait is registered only if there
                // is still none; either way the loop looks again.
                let waited = await withCheckedContinuation {
                    (continuation: CheckedContinuation<Result<Void, KafkaError>, Never>) in
                    let stillFull = state.withLockedValue { state in
                        if state.hasRoom(for: partition, recordBytes: recordBytes) { return false }
                        state.waitForMemory { continuation.resume(returning: $0) }
                        return true
                    }
                    if !stillFull { continuation.resume(returning: .success(())) }
                }
                try waited.get()
            }
        }
    }

    private func learn(_ metadata: KafkaTopicMetadata) {
        state.withLockedValue { state in
            state.partitionCounts[metadata.name] = metadata.partitionCount
            for partition in metadata.partitions where partition.leader >= 0 {
                state.leaders[KafkaTopicPartition(topic: metadata.name, partition: partition.partition)] =
                    partition.leader
            }
        }
    }

    private func wake() {
        wakeup.yield()
    }

    /// A batch of `partition` became ready. Without linger and with acknowledgements, when the partition's leader
    /// has a connection in use, the request goes out from that connection's event loop at once: a chain of
    /// requests (``chain(_:to:on:finish:)``) starts there, or, when a request to the node is already out, nothing
    /// is done, since its answer sends what became ready. Otherwise the sender is woken. Sparing the sender its
    /// wake-up and a task per request matters when every request of a busy producer starts a chain.
    private func sendOrWake(_ partition: KafkaTopicPartition) {
        guard configuration.acks != .none, configuration.linger == .zero,
            let node = state.withLockedValue({ $0.leaders[partition] }),
            let connection = nodeConnections.withLockedValue({ $0[node] }), connection.isActive
        else { return wake() }
        guard let taken = takeReady(for: node, endingRequest: false) else { return }
        let handoff = BatchHandoff(taken)
        let eventLoop = connection.channel.eventLoop
        let start: @Sendable () -> Void = {
            self.chain(handoff.take(), to: node, on: connection) { left in
                guard let left else { return }
                // A request failed: the sender goes on with what was ready after it, on a connection it asks for.
                self.orphans.withLockedValue { $0.append((node, left)) }
                self.wake()
            }
        }
        if eventLoop.inEventLoop { start() } else { eventLoop.execute(start) }
    }

    // MARK: Sender

    public func run() async throws {
        if configuration.idempotent {
            try await initializeProducerID()
        }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await _ in wakeups {
                    var drain = state.withLockedValue { $0.drain(now: .now()) }
                    let topics = refreshing.withLockedValue { refreshing in
                        let topics = drain.topicsNeedingMetadata.subtracting(refreshing)
                        refreshing.formUnion(topics)
                        return topics
                    }
                    if !topics.isEmpty {
                        group.addTask { await self.refreshLeaders(topics: Array(topics)) }
                    }
                    // Each request's batches are moved into the task that sends them, never shared (see
                    // BatchHandoff).
                    var requests: [Int32: [ProducerBatch]] = [:]
                    swap(&requests, &drain.requests)
                    while let (node, batches) = requests.popFirst() {
                        let handoff = BatchHandoff(batches)
                        group.addTask { await self.sendBatches(handoff.take(), to: node) }
                    }
                    let orphaned = orphans.withLockedValue { orphans -> [(node: Int32, batches: BatchHandoff)] in
                        defer { orphans.removeAll() }
                        return orphans
                    }
                    for orphan in orphaned {
                        let handoff = orphan.batches
                        group.addTask { await self.sendBatches(handoff.take(), to: orphan.node) }
                    }
                    if let deadline = drain.nextDeadline { scheduleWake(at: deadline) }
                    let finished = state.withLockedValue { $0.isClosing && $0.isEmpty }
                    if finished { break }
                }
            }
        } onGracefulShutdown: {
            self.close()
        }
        // Cancelled before everything went out: whatever is left fails rather than waiting forever.
        let abandoned = state.withLockedValue { $0.abandon() }
        for batch in abandoned {
            batch.fail(KafkaError(.shutDown, "the producer stopped before \(batch.partition) was sent"))
        }
        wakeup.finish()
    }

    private func scheduleWake(at deadline: NIODeadline) {
        let eventLoop = cluster.eventLoopGroup.any()
        wakeTimer.withLockedValue { timer in
            if let current = timer, current.deadline <= deadline, current.deadline > .now() { return }
            timer?.task.cancel()
            let task = eventLoop.scheduleTask(deadline: deadline) { [weak self] in
                self?.wake()
                return
            }
            timer = (deadline, task)
        }
    }

    /// Looks the leaders of `topics` up again, at most once per retry backoff, so a leader that stays unknown
    /// (a broker down) does not turn into a stream of metadata requests.
    private func refreshLeaders(topics: [String]) async {
        do {
            try await cluster.refreshMetadata(topics: topics)
        } catch {
            logger.debug("metadata refresh failed", metadata: ["error": "\(error)"])
        }
        let known = await cluster.knownTopics
        for topic in topics {
            if let metadata = known[topic] { learn(metadata) }
        }
        try? await Task.sleep(nanoseconds: UInt64(configuration.retryBackoff.nanoseconds))
        refreshing.withLockedValue { $0.subtract(topics) }
        wake()
    }

    private func initializeProducerID() async throws(KafkaError) {
        var attempt = 0
        while true {
            do throws(KafkaError) {
                let connection = try await cluster.anyConnection()
                let response = try await connection.send(
                    KafkaInitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: -1)
                )
                let code = KafkaErrorCode(rawValue: response.errorCode)
                guard code == .none else { throw KafkaError.broker(code, "InitProducerId") }
                state.withLockedValue {
                    $0.producerID = response.producerId
                    $0.producerEpoch = response.producerEpoch
                }
                return
            } catch {
                attempt += 1
                guard error.isRetriable, attempt < 10 else { throw error }
                try? await Task.sleep(nanoseconds: UInt64(configuration.retryBackoff.nanoseconds))
            }
        }
    }

    /// Sends Produce requests to `node` one after the other: the batches given, then, as each answer comes, the
    /// batches of that node that became ready meanwhile (with no linger, the records that came while the request
    /// was out). Going on from the answer spares a wake of the sender and a new task per request; anything else
    /// (other nodes, metadata, lingering batches) is the sender's, woken at the end. With acks, the requests go
    /// on from the connection's event loop, where each answer comes (``sendChained(_:to:on:)``).
    private func sendBatches(_ drained: consuming [ProducerBatch], to node: Int32) async {
        var next: [ProducerBatch]? = drained
        while let batches = next.take() {
            if configuration.acks != .none, let connection = try? await cluster.connection(toNode: node) {
                nodeConnections.withLockedValue { $0[node] = connection }
                // Back here only with what was left after a failed request.
                next = await sendChained(batches, to: node, on: connection)
                continue
            }
            await sendRequest(batches, to: node)
            next = nextRequest(after: node)
        }
        wake()
    }

    /// Ends a request to `node` and takes the node's batches ready now, if any (and the producer is not closing).
    private func nextRequest(after node: Int32) -> [ProducerBatch]? {
        takeReady(for: node, endingRequest: true)
    }

    /// Takes the batches of `node` that may go now, if any (and the producer is not closing), ending a request to
    /// it first when one did. Wakes the sender when it has something to do that a chain does not: a leader to
    /// look up, a batch waiting for its retry backoff, or a close to finish.
    private func takeReady(for node: Int32, endingRequest: Bool) -> [ProducerBatch]? {
        let (taken, needsSender) = state.withLockedValue { state -> ([ProducerBatch]?, Bool) in
            if endingRequest { state.requestEnded(node: node) }
            guard !state.isClosing else { return (nil, true) }
            var drain = state.drain(now: .now(), only: node)
            let needsSender = !drain.topicsNeedingMetadata.isEmpty || drain.nextDeadline != nil
            return (drain.requests.removeValue(forKey: node), needsSender)
        }
        if needsSender { wake() }
        return taken
    }

    /// Sends `batches`, then from each answer, on the connection's event loop, the next request to the node, until
    /// none is ready; returns nil then, or the batches ready after a request failed (the caller goes on with a
    /// connection it asks for again).
    private func sendChained(
        _ batches: consuming [ProducerBatch], to node: Int32, on connection: KafkaConnection
    ) async -> [ProducerBatch]? {
        let handoff = BatchHandoff(batches)
        let left = await withCheckedContinuation { (continuation: CheckedContinuation<BatchHandoff?, Never>) in
            connection.channel.eventLoop.execute {
                self.chain(handoff.take(), to: node, on: connection) { continuation.resume(returning: $0) }
            }
        }
        return left?.take()
    }

    /// One request of a chain, on the connection's event loop.
    private func chain(
        _ drained: consuming [ProducerBatch], to node: Int32, on connection: KafkaConnection,
        finish: @escaping @Sendable (BatchHandoff?) -> Void
    ) {
        let batches = encoded(drained)
        let after: @Sendable (_ sent: Bool) -> Void = { sent in
            guard let next = self.nextRequest(after: node) else { return finish(nil) }
            if sent {
                self.chain(next, to: node, on: connection, finish: finish)
            } else {
                finish(BatchHandoff(next))
            }
        }
        guard !batches.isEmpty else { return after(true) }
        let answer: EventLoopFuture<KafkaProduceResponse>
        do throws(KafkaError) {
            answer = try connection.sendNow(produceRequest(batches), extraTimeout: configuration.requestTimeout)
        } catch {
            settle(batches, .failure(error))
            return after(false)
        }
        let handoff = BatchHandoff(batches)
        answer.whenComplete { result in
            let outcome: Result<[KafkaTopicPartition: KafkaProduceResponse.PartitionProduceResponse]?, KafkaError>
            switch result {
            case .success(let response): outcome = .success(Self.answers(response))
            case .failure(let error):
                outcome = .failure(error as? KafkaError ?? KafkaError(.connectionFailed, "\(error)"))
            }
            self.settle(handoff.take(), outcome)
            if case .success = outcome { after(true) } else { after(false) }
        }
    }

    /// Sends one Produce request with one batch per partition and settles each batch from the answer.
    private func sendRequest(_ drained: consuming [ProducerBatch], to node: Int32) async {
        let batches = encoded(drained)
        guard !batches.isEmpty else { return }
        settle(batches, await transmit(batches, to: node))
    }

    /// The batches closed for sending (compressed, with the producer id); one that cannot be is failed here.
    private func encoded(_ drained: consuming [ProducerBatch]) -> [ProducerBatch] {
        var batches: [ProducerBatch] = []
        batches.reserveCapacity(drained.count)
        let (producerID, producerEpoch) = state.withLockedValue { ($0.producerID, $0.producerEpoch) }
        // Moved out one by one, so that each batch is held once.
        drained.reverse()
        while var batch = drained.popLast() {
            do {
                try batch.finishEncoding(
                    compression: configuration.compression, producerId: producerID, producerEpoch: producerEpoch)
                batches.append(batch)
            } catch {
                finish(&batch, .failure(KafkaError(.compression, "\(batch.partition): \(error)")))
            }
        }
        return batches
    }

    /// Settles each batch of a request from its outcome: delivered, retried or failed.
    private func settle(
        _ sent: consuming [ProducerBatch],
        _ outcome: Result<[KafkaTopicPartition: KafkaProduceResponse.PartitionProduceResponse]?, KafkaError>
    ) {
        var batches = sent
        // Each batch is settled from this array alone, taken out of it first, so that its buffer is held once
        // and goes back to the pool for reuse.
        for index in batches.indices {
            var batch = batches[index]
            batches[index].encoded = nil
            switch outcome {
            case .failure(let error):
                retryOrFail(&batch, error)
            case .success(nil):
                finish(&batch, .success((-1, -1)))
            case .success(let answered?):
                guard let answer = answered[batch.partition] else {
                    retryOrFail(&batch, KafkaError(.protocolViolation, "no answer for \(batch.partition)"))
                    continue
                }
                let code = KafkaErrorCode(rawValue: answer.errorCode)
                switch code {
                case .none, .duplicateSequenceNumber:
                    // A duplicate: the broker already has this batch from an earlier attempt.
                    finish(&batch, .success((answer.baseOffset, answer.logAppendTimeMs)))
                case .outOfOrderSequenceNumber where state.withLockedValue({ $0.hasEarlierUnsettled(than: batch) }):
                    // An earlier batch of the partition failed and goes again first; this one follows it.
                    retryOrFail(
                        &batch, KafkaError.broker(code, "produce to \(batch.partition), behind a retried batch"))
                default:
                    let message = answer.errorMessage.map { ": \($0)" } ?? ""
                    retryOrFail(&batch, KafkaError.broker(code, "produce to \(batch.partition)\(message)"))
                }
            }
        }
    }

    /// The answer per partition.
    private static func answers(
        _ response: KafkaProduceResponse
    ) -> [KafkaTopicPartition: KafkaProduceResponse.PartitionProduceResponse] {
        var answered: [KafkaTopicPartition: KafkaProduceResponse.PartitionProduceResponse] = [:]
        for topic in response.responses {
            for partition in topic.partitionResponses {
                answered[KafkaTopicPartition(topic: topic.name, partition: partition.index)] = partition
            }
        }
        return answered
    }

    /// Sends the request; returns the answer per partition, or nil with acks none.
    private func transmit(
        _ batches: [ProducerBatch],
        to node: Int32
    ) async -> Result<[KafkaTopicPartition: KafkaProduceResponse.PartitionProduceResponse]?, KafkaError> {
        do throws(KafkaError) {
            let connection = try await cluster.connection(toNode: node)
            if configuration.acks == .none {
                try await connection.sendWithoutResponse(produceRequest(batches))
                return .success(nil)
            }
            let response = try await connection.send(
                produceRequest(batches), extraTimeout: configuration.requestTimeout)
            return .success(Self.answers(response))
        } catch {
            return .failure(error)
        }
    }

    private func produceRequest(_ batches: [ProducerBatch]) -> KafkaProduceRequest {
        var topicData: [String: [KafkaProduceRequest.PartitionProduceData]] = [:]
        for batch in batches {
            topicData[batch.partition.topic, default: []].append(
                .init(index: batch.partition.partition, records: batch.encoded))
        }
        return KafkaProduceRequest(
            transactionalId: nil,
            acks: configuration.acks.rawValue,
            timeoutMs: Int32(configuration.requestTimeout.nanoseconds / 1_000_000),
            topicData: topicData.map { .init(name: $0.key, partitionData: $0.value) }
        )
    }

    private func retryOrFail(_ batch: inout ProducerBatch, _ error: KafkaError) {
        let retriable = error.isRetriable || error.code == .broker(.outOfOrderSequenceNumber)
        if retriable {
            let retried = state.withLockedValue { $0.retry(batch, now: .now()) }
            if retried {
                // The retried batch has no leader now, so the next drain refreshes the topic's metadata first.
                logger.debug("retrying batch", metadata: ["partition": "\(batch.partition)", "error": "\(error)"])
                return
            }
            finish(&batch, .failure(KafkaError(error.code, "\(error.context) (delivery timeout passed)")))
            return
        }
        finish(&batch, .failure(error))
    }

    private func finish(_ batch: inout ProducerBatch, _ outcome: Result<(Int64, Int64), KafkaError>) {
        let settled = state.withLockedValue { state in
            if case .success = outcome { state.batchCompleted(batch.partition) }
            return state.batchFinished(&batch)
        }
        switch outcome {
        case .success(let (baseOffset, logAppendTime)):
            batch.complete(baseOffset: baseOffset, logAppendTime: logAppendTime)
        case .failure(let error):
            batch.fail(error)
        }
        for waiter in settled.memoryWaiters { waiter(.success(())) }
        for waiter in settled.flushWaiters { waiter() }
    }
}

/// Carries a request's batches into the task that sends them, so that the task alone holds them: a batch's buffer
/// held twice would be copied when it is written to, and could not go back to the pool for reuse after delivery.
private final class BatchHandoff: @unchecked Sendable {
    // Written in init, taken once by the sending task, which starts after init: never touched concurrently.
    private var batches: [ProducerBatch]?

    init(_ batches: consuming [ProducerBatch]) {
        self.batches = batches
    }

    func take() -> [ProducerBatch] {
        batches.take() ?? []
    }
}
