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
/// The consumer takes every partition of the topics at their end when the first such stream comes, and puts what
/// it reads in a ``SharedTail``, each message with its Kafka cursor as id. It stops when the consumer fails or the
/// cluster has been out of reach for the outage grace (readers get the error, the next stream starts a new tail),
/// or when the tail has had no reader for its linger.
final class KafkaTail: Sendable {
    static let pollBatch = 1_000
    static let fetchMaxWaitMilliseconds: Int64 = 20

    let topics: [String]
    let shared: SharedTail
    let encodeIDs: Bool
    let cluster: KafkaCluster
    let consumer: KafkaConsumer
    /// Next offset of every partition as of the newest message in the ring; changed under the tail's append lock.
    private let positions: Mutex<[KafkaTopicPartition: Int64]>
    private let logger: Logger

    private init(
        topics: [String], cluster: KafkaCluster, consumer: KafkaConsumer, positions: [KafkaTopicPartition: Int64],
        encodeIDs: Bool, logger: Logger
    ) {
        self.topics = topics
        self.cluster = cluster
        self.consumer = consumer
        self.encodeIDs = encodeIDs
        self.logger = logger
        self.shared = SharedTail(name: topics.joined(separator: ","))
        self.positions = Mutex(positions)
    }

    /// Takes every partition of `topics` at its end and starts reading. `onStop` runs once when the tail stops.
    static func start(
        topics: [String], cluster: KafkaCluster, encodeIDs: Bool, logger: Logger,
        onStop: @escaping @Sendable () -> Void
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
            logger: logger)
        tail.shared.whenStopped {
            consumer.close()
            onStop()
        }
        tail.run()
        return tail
    }

    private func run() {
        // Unstructured: the tail serves streams of many requests and outlives each; it ends when its consumer
        // fails or the shared tail stops (which closes the consumer).
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
                    self.shared.stop(failure)
                }
            }
        }
    }

    /// Moves records from the consumer into the ring until the consumer ends or the cluster stays away; returns
    /// why it ended (nil: stopped).
    private func pump() async -> GatewayError? {
        while true {
            if shared.isStopped { return nil }
            let records: [KafkaConsumerRecord]?
            do throws(KafkaError) {
                records = try await consumer.poll(
                    maxCount: Self.pollBatch,
                    until: KafkaMessageSource.nioDeadline(.now + shared.settings.healthCheckInterval))
            } catch {
                return .kafka(error)
            }
            guard let records else {
                return shared.isStopped
                    ? nil : .kafkaUnavailable(KafkaError(.connectionFailed, "the consumer stopped"))
            }
            if records.isEmpty {
                if let outage = await cluster.currentOutage,
                    NIODeadline.now() - outage.since
                        >= TimeAmount.nanoseconds(Int64(KafkaMessageSource.outageGrace / .nanoseconds(1)))
                {
                    return .kafkaUnavailable(outage.error)
                }
                shared.noteIdle()
                continue
            }
            // Only this task changes the positions, so reading them first and storing them with the append is safe.
            var next = positions.withLock { $0 }
            let messages = records.map { record in
                next[record.topicPartition] = record.offset + 1
                return KafkaMessageSource.message(record, id: KafkaCursor(nextOffsets: next).text(encoded: encodeIDs))
            }
            let advanced = next
            shared.append(messages) { self.positions.withLock { $0 = advanced } }
        }
    }

    /// A new reader's place and the positions as of there; nil once the tail has stopped.
    func attach() -> (offset: Int64, positions: [KafkaTopicPartition: Int64])? {
        shared.attach { positions.withLock { $0 } }.map { ($0.offset, $0.extra) }
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
        /// The id (a cursor) of the last message an event-loop reader handed out, newer than `handedOut`: parsed
        /// only when the positions are needed, not once per batch.
        var handedOutID: String?
        /// Next offsets as of what the entrypoint reported written.
        var delivered: [KafkaTopicPartition: Int64]
        /// The id of the last message an event-loop reader reported written, newer than `delivered`.
        var deliveredID: String?
        var committed: [KafkaTopicPartition: Int64]
        var lastCommit = ContinuousClock.now
        var closed = false
        var fallback: KafkaMessageSource?

        mutating func resolvedHandedOut() -> [KafkaTopicPartition: Int64] {
            if let id = handedOutID {
                handedOutID = nil
                if let positions = try? KafkaCursor(parsing: id).nextOffsets { handedOut = positions }
            }
            return handedOut
        }

        mutating func resolvedDelivered() -> [KafkaTopicPartition: Int64] {
            if let id = deliveredID {
                deliveredID = nil
                if let positions = try? KafkaCursor(parsing: id).nextOffsets { delivered = positions }
            }
            return delivered
        }
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
        self.waitID = tail.shared.ring.makeWaitID()
        self.state = Mutex(State(offset: offset, handedOut: positions, delivered: positions, committed: positions))
    }

    deinit {
        close()
    }

    func next(maxCount: Int, until deadline: ContinuousClock.Instant?) async throws -> MessagePoll {
        while true {
            let (closed, offset, fallback, handedOut) = state.withLock {
                ($0.closed, $0.offset, $0.fallback, $0.resolvedHandedOut())
            }
            if closed { return .ended }
            if let fallback { return try await fallback.next(maxCount: maxCount, until: deadline) }
            switch try await tail.shared.read(from: offset, maxCount: maxCount, until: deadline, waitID: waitID) {
            case .messages(let messages, let next):
                let positions = messages.last.flatMap { try? KafkaCursor(parsing: $0.id ?? "") }?.nextOffsets
                state.withLock { state in
                    state.offset = next
                    if let positions { state.handedOut = positions }
                }
                return .messages(messages)
            case .behind:
                // Behind what the ring keeps: continue from exactly here on a consumer of its own.
                let source = try await openFallback(KafkaCursor(nextOffsets: handedOut))
                let keep = state.withLock { state -> Bool in
                    guard !state.closed else { return false }
                    state.fallback = source
                    return true
                }
                if !keep { source.close() }
            case .timedOut:
                return .timedOut
            case .stopped(let failure):
                if state.withLock({ $0.closed }) { return .ended }
                throw failure ?? GatewayError.kafkaUnavailable(KafkaError(.shutDown, "the API is stopping"))
            }
        }
    }

    func delivered() async {
        if let fallback = state.withLock({ $0.fallback }) { return await fallback.delivered() }
        guard options.qos == .auto else { return }
        let due = state.withLock { state -> [KafkaTopicPartition: Int64]? in
            state.delivered = state.resolvedHandedOut()
            state.deliveredID = nil
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
        let (fallback, positions) = state.withLock { ($0.fallback, $0.resolvedHandedOut()) }
        if let fallback { return fallback.currentCursor }
        return positions.isEmpty ? nil : KafkaCursor(nextOffsets: positions).text(encoded: options.encodeIDs)
    }

    func close() {
        let (wasOpen, fallback, due) = state.withLock {
            state -> (Bool, KafkaMessageSource?, [KafkaTopicPartition: Int64]?) in
            defer { state.closed = true }
            let delivered = state.resolvedDelivered()
            let due = options.qos == .auto && delivered != state.committed ? delivered : nil
            return (!state.closed, state.fallback, due)
        }
        guard wasOpen else { return }
        tail.shared.ring.interruptWait(id: waitID)
        tail.shared.detach()
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

extension KafkaTailSource: RingBackedSource {
    var ring: InMemoryTopic { tail.shared.ring }

    func ringPosition() -> RingPosition {
        let (closed, offset, inFallback) = state.withLock { ($0.closed, $0.offset, $0.fallback != nil) }
        if closed { return .ended(nil) }
        // Behind what the ring keeps: `next` continues exactly there on a consumer of its own.
        if inFallback { return .leaveRing }
        let bounds = ring.bounds
        if offset < bounds.first { return .leaveRing }
        if offset >= bounds.end {
            let (stopped, failure) = tail.shared.stopState
            if stopped {
                return .ended(failure ?? GatewayError.kafkaUnavailable(KafkaError(.shutDown, "the API is stopping")))
            }
        }
        return .at(offset)
    }

    func handedOut(upTo next: Int64, lastID: String?) {
        state.withLock { state in
            state.offset = next
            if let lastID { state.handedOutID = lastID }
        }
    }

    var reportsWrites: Bool { options.qos == .auto }

    func written(through lastID: String?) {
        guard options.qos == .auto else { return }
        let due = state.withLock { state -> [KafkaTopicPartition: Int64]? in
            if let lastID { state.deliveredID = lastID }
            guard ContinuousClock.now - state.lastCommit >= KafkaMessageSource.autoCommitInterval else { return nil }
            let delivered = state.resolvedDelivered()
            guard delivered != state.committed else { return nil }
            state.lastCommit = .now
            return delivered
        }
        // Unstructured: an event-loop stream reports writes from the loop, and a commit is a broker round trip.
        if let due { Task { await self.commit(due) } }
    }
}
