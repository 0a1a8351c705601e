import KafkaWire
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// Consumes records from Kafka partitions: assigned by the application (`assign`), or by a consumer group.
///
/// The consumer is a `Service`: its `run()` fetches from partition leaders (one fetch in flight per broker) and
/// must be running for records to arrive. Records are read from `records`, an `AsyncSequence` with back-pressure:
/// no fetch starts while `bufferBytes` of fetched records wait to be read.
public final class KafkaConsumer: Service, Sendable {
    public let cluster: KafkaCluster
    public let configuration: KafkaConsumerConfiguration
    let state: NIOLockedValueBox<ConsumerFetchState>
    private let leaders = NIOLockedValueBox<[KafkaTopicPartition: Int32]>([:])
    private let subscription = NIOLockedValueBox<ConsumerGroupSubscription?>(nil)
    private let coordinator = NIOLockedValueBox<ConsumerGroupCoordinator?>(nil)
    /// Offsets to start at instead of the committed ones, for partitions the group has not assigned yet.
    private let startOverrides = NIOLockedValueBox<[KafkaTopicPartition: Int64]>([:])
    private let wakeups: AsyncStream<Void>
    private let wakeup: AsyncStream<Void>.Continuation
    let logger: Logger
    /// This consumer's own connections for fetches, which the broker holds up to `fetchMaxWait`.
    private let fetchLane = "fetch-\(UInt64.random(in: 1...UInt64.max))"

    public init(cluster: KafkaCluster, configuration: KafkaConsumerConfiguration = .init()) {
        self.cluster = cluster
        self.configuration = configuration
        self.state = NIOLockedValueBox(ConsumerFetchState(configuration: configuration))
        (wakeups, wakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.logger = cluster.logger
    }

    // MARK: Assignment

    /// Consumes exactly these partitions from these starting points, replacing any earlier assignment.
    public func assign(_ assignment: [KafkaTopicPartition: KafkaOffsetSpec]) {
        state.withLockedValue { $0.assign(assignment) }
        wake()
    }

    /// Moves a partition's position; records already fetched beyond it are dropped.
    public func seek(_ partition: KafkaTopicPartition, to spec: KafkaOffsetSpec) {
        state.withLockedValue { $0.seek(partition, to: spec) }
        wake()
    }

    /// Stops fetching these partitions until `resume`; the position is kept.
    public func pause(_ partitions: [KafkaTopicPartition]) {
        state.withLockedValue { $0.setPaused(true, partitions) }
    }

    public func resume(_ partitions: [KafkaTopicPartition]) {
        state.withLockedValue { $0.setPaused(false, partitions) }
        wake()
    }

    /// The partitions this consumer owns now.
    public var assignment: [KafkaTopicPartition] {
        state.withLockedValue { $0.assignedPartitions }
    }

    /// For each owned partition that has handed out records, the offset after the last one: what a commit stores.
    /// Records not read yet per owned partition: the high watermark of the partition's latest fetch answer less
    /// the position the application has read to. A partition no answer has told of yet is left out.
    public var lag: [KafkaTopicPartition: Int64] {
        state.withLockedValue { $0.lag }
    }

    public var consumedPositions: [KafkaTopicPartition: Int64] {
        state.withLockedValue { $0.consumed }
    }

    /// Ends the records sequence and stops `run()`; in a group, commits what was consumed (with auto-commit on)
    /// and leaves the group. Records fetched but not yet read are dropped, uncommitted, for the next owner.
    public func close() {
        let waiter = state.withLockedValue { $0.finish() }
        waiter?.resume()
        stopGroup()
        wakeup.finish()
    }

    // MARK: Consumer groups

    /// Joins the configured consumer group for these topics once `run()` starts. Call before `run()`.
    public func subscribe(topics: [String]) throws(KafkaError) {
        try setSubscription(.topics(topics))
    }

    /// Joins the configured consumer group for every topic whose whole name matches the regular expression,
    /// checked again as topics come and go. Call before `run()`.
    public func subscribe(pattern: String) throws(KafkaError) {
        guard (try? Regex(pattern)) != nil else {
            throw KafkaError(.invalidConfiguration, "topic pattern '\(pattern)' is not a regular expression")
        }
        try setSubscription(
            .pattern(description: pattern) { name in
                // Compiled per check: a Regex value cannot cross tasks, and checks are rare.
                guard let regex = try? Regex(pattern) else { return false }
                return name.wholeMatch(of: regex) != nil
            }
        )
    }

    private func setSubscription(_ value: ConsumerGroupSubscription) throws(KafkaError) {
        guard configuration.group != nil else {
            throw KafkaError(.invalidConfiguration, "subscribing needs a consumer group in the configuration")
        }
        subscription.withLockedValue { $0 = value }
    }

    /// Commits the consumed positions (or the given offsets) to the group, and waits for the broker to store them.
    public func commit(_ offsets: [KafkaTopicPartition: Int64]? = nil) async throws(KafkaError) {
        guard let coordinator = coordinator.withLockedValue({ $0 }) else {
            throw KafkaError(.invalidConfiguration, "only a consumer in a running consumer group can commit")
        }
        let offsets = offsets ?? consumedPositions
        guard !offsets.isEmpty else { return }
        try await coordinator.commit(offsets)
    }

    /// Starts a commit of the consumed positions (or the given offsets) and returns at once; `onCompletion` hears
    /// how it went. Commits started one after another are sent in that order over the coordinator connection.
    public func commitAsync(
        _ offsets: [KafkaTopicPartition: Int64]? = nil,
        onCompletion: @escaping @Sendable (Result<Void, KafkaError>) -> Void = { _ in }
    ) {
        let offsets = offsets ?? consumedPositions
        // Unstructured on purpose: the caller goes on consuming while the commit travels, as with Kafka's
        // commitAsync; the task ends with the commit's answer (bounded by the request timeout).
        Task {
            do throws(KafkaError) {
                try await self.commit(offsets)
                onCompletion(.success(()))
            } catch {
                onCompletion(.failure(error))
            }
        }
    }

    /// The offsets the group has committed for these partitions (-1 where none).
    public func committedOffsets(
        for partitions: [KafkaTopicPartition]
    ) async throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        guard let coordinator = coordinator.withLockedValue({ $0 }) else {
            throw KafkaError(.invalidConfiguration, "only a consumer in a running consumer group has committed offsets")
        }
        return try await coordinator.committedOffsets(for: partitions)
    }

    /// Offsets that partitions start at when the group assigns them to this consumer, instead of the group's
    /// committed offsets: a client resuming from positions it knows. Each applies to the first assignment that
    /// includes its partition. Call before `run()`.
    public func overrideStartPositions(_ positions: [KafkaTopicPartition: Int64]) {
        startOverrides.withLockedValue { $0.merge(positions) { _, new in new } }
    }

    /// The start override of a partition being assigned, used up.
    fileprivate func takeStartOverride(_ partition: KafkaTopicPartition) -> Int64? {
        startOverrides.withLockedValue { $0.removeValue(forKey: partition) }
    }

    /// For each owned partition whose position is known, the offset of the next record the application gets: after
    /// the last record handed out, else where the partition starts.
    public var positions: [KafkaTopicPartition: Int64] {
        state.withLockedValue { $0.applicationPositions }
    }

    /// The group's current generation and this member's id, while in a group.
    public var groupMembership: (generation: Int32, memberID: String)? {
        coordinator.withLockedValue { $0.map { ($0.generation, $0.memberID) } }
    }

    // MARK: Records

    /// The fetched records, in offset order per partition. Ends after `close()` or when `run()` stops; throws when
    /// a partition cannot go on (an out-of-range offset with no reset policy, a corrupt batch).
    public var records: KafkaConsumerRecords { KafkaConsumerRecords(consumer: self) }

    func nextRecord() async throws(KafkaError) -> KafkaConsumerRecord? {
        while true {
            switch state.withLockedValue({ $0.next() }) {
            case .record(let record, let wakeFetcher):
                if wakeFetcher { wake() }
                return record
            case .finished:
                return nil
            case .failed(let error):
                throw error
            case .wait:
                // A cancelled reader stops waiting and ends its iteration; the records stay for the next reader.
                if Task.isCancelled { return nil }
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        // Checked under the lock, so a cancellation either finds the reader parked or stops it
                        // from parking.
                        let parked = state.withLockedValue { Task.isCancelled ? false : $0.wait(continuation) }
                        if !parked { continuation.resume() }
                    }
                } onCancel: {
                    state.withLockedValue { $0.takeWaiter() }?.resume()
                }
            }
        }
    }

    func wake() {
        wakeup.yield()
    }

    // MARK: Fetcher

    public func run() async throws {
        var groupCoordinator: ConsumerGroupCoordinator?
        if let groupConfiguration = configuration.group {
            guard let subscription = subscription.withLockedValue({ $0 }) else {
                throw KafkaError(.invalidConfiguration, "a consumer with a group must subscribe before it runs")
            }
            let created = try ConsumerGroupCoordinator(
                cluster: cluster,
                configuration: groupConfiguration,
                subscription: subscription,
                member: GroupMember(consumer: self)
            )
            coordinator.withLockedValue { $0 = created }
            groupCoordinator = created
        }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                if let groupCoordinator {
                    group.addTask {
                        do {
                            try await groupCoordinator.run()
                        } catch {
                            let failure = (error as? KafkaError) ?? KafkaError(.protocolViolation, "\(error)")
                            let waiter = self.state.withLockedValue { $0.fail(failure) }
                            waiter?.resume()
                        }
                    }
                }
                for await _ in wakeups {
                    let unresolved = state.withLockedValue { $0.takeUnresolved() }
                    if !unresolved.isEmpty {
                        group.addTask { await self.resolvePositions(unresolved) }
                    }
                    let owned = state.withLockedValue { $0.assignedPartitions }
                    var known = leaders.withLockedValue { $0 }
                    let missing = owned.filter { known[$0] == nil }
                    if !missing.isEmpty {
                        await refreshLeaders(topics: Array(Set(missing.map(\.topic))))
                        known = leaders.withLockedValue { $0 }
                    }
                    let (targets, epoch) = state.withLockedValue { ($0.fetchTargets(leaders: known), $0.epoch) }
                    for (node, positions) in targets {
                        group.addTask { await self.fetch(from: node, positions: positions, epoch: epoch) }
                    }
                    if state.withLockedValue({ $0.isFinished }) { break }
                }
            }
        } onGracefulShutdown: {
            self.close()
        }
        close()
        await cluster.closeLane(fetchLane)
    }

    /// Stops the fetcher; with a group, first commits (when auto-commit is on) and leaves the group.
    private func stopGroup() {
        coordinator.withLockedValue { $0 }?.close()
    }

    private func refreshLeaders(topics: [String]) async {
        do {
            let metadata = try await cluster.metadata(for: topics)
            leaders.withLockedValue { leaders in
                for topic in metadata.values {
                    for partition in topic.partitions where partition.leader >= 0 {
                        leaders[KafkaTopicPartition(topic: topic.name, partition: partition.partition)] =
                            partition.leader
                    }
                }
            }
        } catch {
            logger.debug("metadata for consumer failed", metadata: ["error": "\(error)"])
            await backoffAndWake()
        }
    }

    private func forgetLeaders(of partitions: [KafkaTopicPartition]) async {
        leaders.withLockedValue { leaders in
            for partition in partitions { leaders[partition] = nil }
        }
        await cluster.invalidateMetadata()
    }

    private func backoffAndWake() async {
        try? await Task.sleep(nanoseconds: UInt64(configuration.retryBackoff.nanoseconds))
        wake()
    }

    private func resolvePositions(_ specs: [KafkaTopicPartition: KafkaOffsetSpec]) async {
        do {
            let offsets = try await cluster.listOffsets(specs, isolationLevel: configuration.isolationLevel)
            state.withLockedValue { $0.resolved(offsets.mapValues(\.offset), failed: []) }
            wake()
        } catch {
            logger.debug("offset lookup failed", metadata: ["error": "\(error)"])
            state.withLockedValue { $0.resolved([:], failed: Array(specs.keys)) }
            if !error.isRetriable {
                let waiter = state.withLockedValue { $0.fail(error) }
                waiter?.resume()
            }
            await backoffAndWake()
        }
    }

    private func fetch(from node: Int32, positions: [KafkaTopicPartition: Int64], epoch: UInt64) async {
        var fetchEnded = false
        /// Lets the next fetch to this broker go.
        func endFetch() {
            guard !fetchEnded else { return }
            fetchEnded = true
            state.withLockedValue { $0.fetchEnded(node: node) }
            wake()
        }
        defer { endFetch() }
        do throws(KafkaError) {
            let connection = try await cluster.connection(toNode: node, lane: fetchLane)
            var version = try connection.version(for: KafkaFetchRequest.self)
            let topicIDs = await cluster.knownTopics.mapValues(\.topicID)
            let byTopic = Dictionary(grouping: positions.keys, by: \.topic)
            // From version 13 topics travel by id; without ids (an older broker) stay at 12.
            if version >= 13 && byTopic.keys.contains(where: { (topicIDs[$0] ?? .zero) == .zero }) {
                version = 12
            }
            let request = KafkaFetchRequest(
                replicaId: -1,
                maxWaitMs: Int32(configuration.fetchMaxWait.nanoseconds / 1_000_000),
                minBytes: configuration.fetchMinBytes,
                maxBytes: configuration.fetchMaxBytes,
                isolationLevel: configuration.isolationLevel.rawValue,
                sessionId: 0,
                sessionEpoch: -1,
                topics: byTopic.map { topic, partitions in
                    .init(
                        topic: topic,
                        topicId: topicIDs[topic] ?? .zero,
                        partitions: partitions.map {
                            .init(
                                partition: $0.partition,
                                currentLeaderEpoch: -1,
                                fetchOffset: positions[$0]!,
                                logStartOffset: -1,
                                partitionMaxBytes: configuration.maxPartitionFetchBytes
                            )
                        }
                    )
                }
            )
            let response = try await connection.send(
                request, version: version, extraTimeout: configuration.fetchMaxWait)
            guard response.errorCode == 0 else {
                throw KafkaError.broker(KafkaErrorCode(rawValue: response.errorCode), "fetch from broker \(node)")
            }
            let names = Dictionary(topicIDs.map { ($0.value, $0.key) }, uniquingKeysWith: { first, _ in first })
            var stale: [KafkaTopicPartition] = []
            var accepted: [(KafkaTopicPartition, KafkaFetchResponse.PartitionData, offset: Int64, bytes: Int)] = []
            for topic in response.responses {
                let name = version >= 13 ? names[topic.topicId] ?? topic.topic : topic.topic
                for partition in topic.partitions {
                    let key = KafkaTopicPartition(topic: name, partition: partition.partitionIndex)
                    guard let offset = positions[key] else { continue }
                    let code = KafkaErrorCode(rawValue: partition.errorCode)
                    switch code {
                    case .none:
                        // The next position comes from the batch headers, so the next fetch can go while this
                        // answer is decoded.
                        let records = partition.records ?? ByteBuffer()
                        let next = KafkaRecordBatchDecoder.nextFetchOffset(in: records, fetchOffset: offset)
                        let isCurrent = state.withLockedValue {
                            $0.answerReceived(
                                partition: key, fetchedAt: offset, nextOffset: next, bytes: records.readableBytes,
                                epoch: epoch, highWatermark: partition.highWatermark)
                        }
                        if isCurrent { accepted.append((key, partition, offset, records.readableBytes)) }
                    case .offsetOutOfRange:
                        if let error = state.withLockedValue({ $0.outOfRange(key, fetchedAt: offset) }) {
                            let waiter = state.withLockedValue { $0.fail(error) }
                            waiter?.resume()
                        }
                    default:
                        if code.isRetriable {
                            stale.append(key)
                        } else {
                            let waiter = state.withLockedValue {
                                $0.fail(KafkaError.broker(code, "fetch \(key) at offset \(offset)"))
                            }
                            waiter?.resume()
                        }
                    }
                }
            }
            endFetch()
            var decodingFailure: KafkaError?
            for (key, partition, offset, bytes) in accepted {
                var records: [KafkaConsumerRecord]?
                if decodingFailure == nil {
                    do throws(KafkaError) {
                        records = try decode(partition, of: key, fetchedAt: offset)
                    } catch {
                        decodingFailure = error
                    }
                }
                let waiter = state.withLockedValue {
                    $0.fetched(records, partition: key, fetchedAt: offset, bytes: bytes, epoch: epoch)
                }
                waiter?.resume()
            }
            if let decodingFailure { throw decodingFailure }
            if !stale.isEmpty {
                await forgetLeaders(of: stale)
                await backoffAndWake()
            }
        } catch {
            logger.debug("fetch failed", metadata: ["kafka.node": "\(node)", "error": "\(error)"])
            if error.isRetriable {
                await forgetLeaders(of: Array(positions.keys))
            } else {
                let waiter = state.withLockedValue { $0.fail(error) }
                waiter?.resume()
            }
            await backoffAndWake()
        }
    }

    /// The records of one partition's answer, as the application sees them.
    private func decode(
        _ partition: KafkaFetchResponse.PartitionData,
        of key: KafkaTopicPartition,
        fetchedAt offset: Int64
    ) throws(KafkaError) -> [KafkaConsumerRecord] {
        let batches: [KafkaRecordBatch]
        do {
            batches = try KafkaRecordBatchDecoder.decode(partition.records ?? ByteBuffer())
        } catch {
            throw KafkaError(.protocolViolation, "\(key) at offset \(offset): \(error)")
        }
        let fetched = KafkaFetchedRecords(
            batches: batches,
            fetchOffset: offset,
            isolationLevel: configuration.isolationLevel,
            abortedTransactions: partition.abortedTransactions ?? []
        )
        var records: [KafkaConsumerRecord] = []
        records.reserveCapacity(fetched.records.count)
        var batchIndex = 0
        for record in fetched.records {
            while batchIndex < batches.count - 1 && batches[batchIndex].lastOffset < record.offset { batchIndex += 1 }
            records.append(
                KafkaConsumerRecord(
                    topic: key.topic,
                    partition: key.partition,
                    offset: record.offset,
                    timestamp: record.timestamp,
                    timestampType: batches.isEmpty ? .createTime : batches[batchIndex].timestampType,
                    key: record.key,
                    value: record.value,
                    headers: record.headers
                )
            )
        }
        return records
    }
}

/// The records of a `KafkaConsumer`, in offset order per partition.
public struct KafkaConsumerRecords: AsyncSequence, Sendable {
    public typealias Element = KafkaConsumerRecord
    let consumer: KafkaConsumer

    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: KafkaConsumer

        public mutating func next() async throws(KafkaError) -> KafkaConsumerRecord? {
            try await consumer.nextRecord()
        }

        public mutating func next(
            isolation actor: isolated (any Actor)?
        ) async throws(KafkaError) -> KafkaConsumerRecord? {
            try await consumer.nextRecord()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(consumer: consumer)
    }
}

/// The consumer as its group coordinator sees it.
private struct GroupMember: ConsumerGroupMember {
    let consumer: KafkaConsumer

    func partitionsRevoked(_ partitions: [KafkaTopicPartition]) async {
        await consumer.configuration.rebalanceListener?.partitionsRevoked(partitions)
        consumer.state.withLockedValue { $0.revoke(partitions) }
    }

    func partitionsAssigned(_ partitions: [KafkaTopicPartition: Int64?]) async {
        let reset: KafkaOffsetSpec = consumer.configuration.autoOffsetReset == .earliest ? .earliest : .latest
        var assignment: [KafkaTopicPartition: KafkaOffsetSpec] = [:]
        for (partition, committed) in partitions {
            if let override = consumer.takeStartOverride(partition) {
                assignment[partition] = .exact(override)
            } else if let committed, committed >= 0 {
                assignment[partition] = .exact(committed)
            } else {
                assignment[partition] = reset
            }
        }
        consumer.state.withLockedValue { $0.assign(assignment) }
        await consumer.configuration.rebalanceListener?.partitionsAssigned(partitions.keys.sorted())
        consumer.wake()
    }

    func consumedPositions() -> [KafkaTopicPartition: Int64] {
        consumer.consumedPositions
    }
}
