import Foundation
import KafkaClient
import Logging
import NIOCore
import SluiceCore
import Synchronization

/// One consumer that reads the newest records of a deployment's topics for every stream that starts there with an
/// identifier of its own (see ``KafkaTailSource``): a thousand SSE clients cost one fetch per partition, not a
/// thousand consumers, groups and broker connections.
///
/// The consumer takes every partition of the topics at their end when the first such stream comes, and keeps what
/// it reads in a bounded ring (the embedded log's ``InMemoryTopic``), each message with its Kafka cursor as id. A
/// reader keeps only its place in the ring. The tail stops when its consumer fails (its readers get the error, the
/// next stream starts a new tail) or when it has had no reader for ``linger``.
final class KafkaTail: Sendable {
    /// What the ring keeps. A reader that falls further behind continues on a consumer of its own.
    static let retention = InMemoryRetention(maxMessages: 10_000, maxBytes: 32 << 20)
    static let pollBatch = 1_000
    /// How long a tail without readers waits for a new one before it stops.
    static let linger = Duration.seconds(30)
    static let fetchMaxWaitMilliseconds: Int64 = 20
    /// Longest wait of a reader between looks at the tail's health.
    static let healthCheckInterval = Duration.milliseconds(500)

    private struct State {
        /// Next offset of every partition as of the newest message in the ring.
        var positions: [KafkaTopicPartition: Int64]
        var readers = 0
        /// Changes whenever the reader count changes, so a lingering stop knows a reader came and went.
        var generation = 0
        var failure: GatewayError?
        var stopped = false
    }

    let topics: [String]
    let ring: InMemoryTopic
    let encodeIDs: Bool
    let cluster: KafkaCluster
    private let consumer: KafkaConsumer
    private let state: Mutex<State>
    private let logger: Logger
    /// Tells the endpoint this tail is done, so the next stream starts another.
    private let onStop: @Sendable (KafkaTail) -> Void

    private init(
        topics: [String], cluster: KafkaCluster, consumer: KafkaConsumer, positions: [KafkaTopicPartition: Int64],
        encodeIDs: Bool, logger: Logger, onStop: @escaping @Sendable (KafkaTail) -> Void
    ) {
        self.topics = topics
        self.cluster = cluster
        self.consumer = consumer
        self.encodeIDs = encodeIDs
        self.logger = logger
        self.onStop = onStop
        self.ring = InMemoryTopic(name: topics.joined(separator: ","), retention: Self.retention)
        self.state = Mutex(State(positions: positions))
    }

    /// Takes every partition of `topics` at its end and starts reading.
    static func start(
        topics: [String], cluster: KafkaCluster, encodeIDs: Bool, logger: Logger,
        onStop: @escaping @Sendable (KafkaTail) -> Void
    ) async throws(GatewayError) -> KafkaTail {
        var ends: [KafkaTopicPartition: Int64] = [:]
        do throws(KafkaError) {
            var partitions: [KafkaTopicPartition] = []
            for topic in topics {
                do throws(KafkaError) {
                    let metadata = try await cluster.metadata(for: topic)
                    partitions += metadata.partitions.map { KafkaTopicPartition(topic: topic, partition: $0.partition) }
                } catch {
                    if error.code != .broker(.unknownTopicOrPartition) { throw error }
                }
            }
            if !partitions.isEmpty {
                let listed = try await cluster.listOffsets(
                    Dictionary(uniqueKeysWithValues: partitions.map { ($0, KafkaOffsetSpec.latest) }))
                for (partition, offset) in listed { ends[partition] = offset.offset }
            }
        } catch {
            throw GatewayError.kafka(error)
        }
        var configuration = KafkaConsumerConfiguration()
        configuration.autoOffsetReset = .latest
        configuration.bufferBytes = 8 * 1024 * 1024
        // Short: a broker that holds a fetch for its whole wait even when records arrive (tansu 0.6 does) would
        // otherwise add up to the wait to every message's delay. One tail's fetches per API are cheap.
        configuration.fetchMaxWait = .milliseconds(fetchMaxWaitMilliseconds)
        let consumer = KafkaConsumer(cluster: cluster, configuration: configuration)
        consumer.assign(ends.mapValues { .exact($0) })
        let tail = KafkaTail(
            topics: topics, cluster: cluster, consumer: consumer, positions: ends, encodeIDs: encodeIDs,
            logger: logger, onStop: onStop)
        tail.run()
        return tail
    }

    private func run() {
        // Unstructured: the tail serves streams of many requests and outlives each; it ends when its consumer
        // fails or stop() closes it.
        Task {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    do {
                        try await self.consumer.run()
                    } catch {
                        self.logger.debug("Kafka tail consumer stopped", metadata: ["error": "\(error)"])
                    }
                }
                group.addTask {
                    let failure = await self.pump()
                    self.finish(failure)
                }
            }
        }
    }

    /// Moves records from the consumer into the ring until the consumer ends or the cluster stays away; returns
    /// why it ended (nil: stopped).
    private func pump() async -> GatewayError? {
        while true {
            if state.withLock({ $0.stopped }) { return nil }
            let records: [KafkaConsumerRecord]?
            do throws(KafkaError) {
                records = try await consumer.poll(
                    maxCount: Self.pollBatch,
                    until: KafkaMessageSource.nioDeadline(.now + Self.healthCheckInterval))
            } catch {
                return .kafka(error)
            }
            guard let records else {
                return state.withLock { $0.stopped }
                    ? nil : .kafkaUnavailable(KafkaError(.connectionFailed, "the consumer stopped"))
            }
            if records.isEmpty {
                if let outage = await cluster.currentOutage,
                    NIODeadline.now() - outage.since
                        >= TimeAmount.nanoseconds(Int64(KafkaMessageSource.outageGrace / .nanoseconds(1)))
                {
                    return .kafkaUnavailable(outage.error)
                }
                ring.expireWaits(now: .now)
                continue
            }
            state.withLock { state in
                var positions = state.positions
                let messages = records.map { record in
                    positions[record.topicPartition] = record.offset + 1
                    return KafkaMessageSource.message(
                        record, id: KafkaCursor(nextOffsets: positions).text(encoded: encodeIDs))
                }
                state.positions = positions
                // Under the tail's lock, so a reader that attaches sees positions and ring end that agree.
                ring.append(messages, idsAreOffsets: false)
            }
            ring.expireWaits(now: .now)
        }
    }

    private func finish(_ failure: GatewayError?) {
        state.withLock { state in
            state.stopped = true
            if state.failure == nil { state.failure = failure }
        }
        consumer.close()
        // Every reader waits with a deadline: end all the waits now, so each sees the failure or the stop.
        ring.expireWaits(now: .now + .seconds(86_400))
        onStop(self)
    }

    /// Stops reading; readers see ``failure`` (or the end) at their next read.
    func stop(_ reason: GatewayError? = nil) {
        state.withLock { state in
            state.stopped = true
            if state.failure == nil { state.failure = reason }
        }
        consumer.close()
        ring.expireWaits(now: .now + .seconds(86_400))
        onStop(self)
    }

    /// Why the tail stopped, once it has; `stopped` is true from then on.
    var status: (stopped: Bool, failure: GatewayError?) {
        state.withLock { ($0.stopped, $0.failure) }
    }

    /// A new reader's place: the ring's end and the positions as of there. Nil when the tail has stopped.
    func attach() -> (offset: Int64, positions: [KafkaTopicPartition: Int64])? {
        state.withLock { state in
            guard !state.stopped else { return nil }
            state.readers += 1
            state.generation += 1
            return (ring.bounds.end, state.positions)
        }
    }

    /// A reader left; the last one starts the linger.
    func detach() {
        let generation = state.withLock { state -> Int? in
            state.readers -= 1
            state.generation += 1
            return state.readers == 0 && !state.stopped ? state.generation : nil
        }
        guard let generation else { return }
        Task {
            try? await Task.sleep(for: Self.linger)
            let idle = state.withLock { $0.readers == 0 && $0.generation == generation && !$0.stopped }
            if idle { stop() }
        }
    }
}

/// A stream served from a ``KafkaTail``: a stream that starts at the newest records (`autoOffsetReset` latest, no
/// cursor) of the configured topics, with an identifier the gateway made for it, at QoS `none` or `auto`. No other
/// client has its identifier yet, so its own consumer group would read exactly what the tail reads.
///
/// Its message ids are the tail's cursors, which are exact for it too: it has every message of the ring from
/// where it attached, and a partition it has had nothing from stands where the tail stood then. With `auto` it
/// commits what was written to the client for its group (without joining it) every 5 s and when it ends, so a
/// client that comes back with the identifier it was given continues there. A reader that falls behind the ring
/// continues exactly where it stands on a consumer of its own.
final class KafkaTailSource: MessageSource {
    private struct State {
        var offset: Int64
        /// Next offsets as of what was handed out last.
        var handedOut: [KafkaTopicPartition: Int64]
        /// Next offsets as of what the entrypoint reported written.
        var delivered: [KafkaTopicPartition: Int64]
        var committed: [KafkaTopicPartition: Int64]
        var lastCommit = ContinuousClock.now
        var closed = false
        var fallback: KafkaMessageSource?
    }

    private let tail: KafkaTail
    private let options: KafkaMessageSource.Options
    private let waitID: UInt64
    private let state: Mutex<State>
    private let openFallback: @Sendable (KafkaCursor) async throws -> KafkaMessageSource

    init?(
        tail: KafkaTail, options: KafkaMessageSource.Options,
        openFallback: @escaping @Sendable (KafkaCursor) async throws -> KafkaMessageSource
    ) {
        guard let (offset, positions) = tail.attach() else { return nil }
        self.tail = tail
        self.options = options
        self.openFallback = openFallback
        self.waitID = tail.ring.makeWaitID()
        self.state = Mutex(State(offset: offset, handedOut: positions, delivered: positions, committed: positions))
    }

    deinit {
        close()
    }

    func next(maxCount: Int, until deadline: ContinuousClock.Instant?) async throws -> MessagePoll {
        while true {
            let (closed, offset, fallback, handedOut) = state.withLock {
                ($0.closed, $0.offset, $0.fallback, $0.handedOut)
            }
            if closed { return .ended }
            if let fallback { return try await fallback.next(maxCount: maxCount, until: deadline) }
            let (first, _) = tail.ring.bounds
            if offset < first {
                // Behind what the ring keeps: continue from exactly here on a consumer of its own.
                let source = try await openFallback(KafkaCursor(nextOffsets: handedOut))
                let keep = state.withLock { state -> Bool in
                    guard !state.closed else { return false }
                    state.fallback = source
                    return true
                }
                if !keep { source.close() }
                continue
            }
            let (messages, next) = tail.ring.read(from: offset, maxCount: maxCount)
            if !messages.isEmpty {
                // The ring may have dropped messages between the look at its bounds and the read.
                if next - Int64(messages.count) != offset { continue }
                let positions = messages.last.flatMap { try? KafkaCursor(parsing: $0.id ?? "") }?.nextOffsets
                state.withLock { state in
                    state.offset = next
                    if let positions { state.handedOut = positions }
                }
                return .messages(messages)
            }
            let (stopped, failure) = tail.status
            if stopped { throw failure ?? GatewayError.kafkaUnavailable(KafkaError(.shutDown, "the API is stopping")) }
            var wake = ContinuousClock.now + KafkaTail.healthCheckInterval
            if let deadline {
                if deadline <= .now { return .timedOut }
                wake = min(wake, deadline)
            }
            _ = try await tail.ring.waitForMessage(at: offset, until: wake, id: waitID)
        }
    }

    func delivered() async {
        if let fallback = state.withLock({ $0.fallback }) { return await fallback.delivered() }
        guard options.qos == .auto else { return }
        let due = state.withLock { state -> [KafkaTopicPartition: Int64]? in
            state.delivered = state.handedOut
            guard ContinuousClock.now - state.lastCommit >= KafkaMessageSource.autoCommitInterval,
                state.delivered != state.committed
            else { return nil }
            state.lastCommit = .now
            return state.delivered
        }
        if let due { await commit(due) }
    }

    private func commit(_ offsets: [KafkaTopicPartition: Int64]) async {
        do throws(KafkaError) {
            try await tail.cluster.commitOffsets(group: options.groupID, offsets: offsets)
            state.withLock { $0.committed = offsets }
        } catch {
            options.logger.debug("Kafka commit failed", metadata: ["group": "\(options.groupID)", "error": "\(error)"])
        }
    }

    var currentCursor: String? {
        let (fallback, positions) = state.withLock { ($0.fallback, $0.handedOut) }
        if let fallback { return fallback.currentCursor }
        return positions.isEmpty ? nil : KafkaCursor(nextOffsets: positions).text(encoded: options.encodeIDs)
    }

    func close() {
        let (wasOpen, fallback, due) = state.withLock {
            state -> (Bool, KafkaMessageSource?, [KafkaTopicPartition: Int64]?) in
            defer { state.closed = true }
            let due = options.qos == .auto && state.delivered != state.committed ? state.delivered : nil
            return (!state.closed, state.fallback, due)
        }
        guard wasOpen else { return }
        tail.ring.interruptWait(id: waitID)
        tail.detach()
        if let fallback {
            fallback.close()
        } else if let due {
            // What the client has is the group's, as a member's last commit would make it. (Not through self:
            // close() also runs from deinit.)
            let cluster = tail.cluster
            let options = options
            Task {
                do throws(KafkaError) {
                    try await cluster.commitOffsets(group: options.groupID, offsets: due)
                } catch {
                    options.logger.debug(
                        "Kafka commit failed", metadata: ["group": "\(options.groupID)", "error": "\(error)"])
                }
            }
        }
    }
}
