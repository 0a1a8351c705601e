import Foundation
import KafkaClient
import KafkaWire
import Logging
import NIOCore
import SluiceCore
import Synchronization

/// A subscription to Kafka topics: one consumer, read by one entrypoint.
///
/// - A **stream** (SSE, WebSocket) is a member of the consumer group named by the client identifier: clients with
///   one identifier share the topics' partitions, and each partition starts at the client's cursor if it has one,
///   else at the group's committed offset, else where `autoOffsetReset` says. Closing leaves the group at once.
/// - A **poll** (http-get) is too short to be a group member (a join takes seconds): its consumer takes every
///   partition itself, at the cursor, else at the group's committed offsets, else by `autoOffsetReset`, and commits
///   for the group without joining it.
///
/// Commits follow the QoS: `none` never commits; `at-most-once` commits each batch before handing it out;
/// `at-least-once` commits what the entrypoint reports written to the client, as soon as it does; `auto` commits
/// that too, but a stream every 5 s (and when its partitions go to another member, and when it ends), and a poll
/// before it answers. A stream never commits records it took but could not write (a client that left), so the
/// next owner of a partition reads them. Every message's id is a ``KafkaCursor`` of all the stream's partitions as
/// of that message.
final class KafkaMessageSource: MessageSource {
    struct Options: Sendable {
        var qos: MessageQoS
        var groupID: String
        var encodeIDs: Bool
        var logger: Logger
    }

    enum Membership: Sendable {
        /// The consumer assigned its partitions itself; commits go to the group without joining it.
        case standalone
        /// The consumer is a member of the group.
        case member
    }

    /// A failing cluster ends the subscription with an error once it has been out of reach this long.
    static let outageGrace = Duration.seconds(2)
    /// How often a waiting read looks at the cluster's health.
    static let healthCheckInterval = Duration.milliseconds(500)

    private struct State {
        /// Positions handed out and not yet acknowledged as written to the client (at-least-once, auto polls).
        var unacknowledged: [KafkaTopicPartition: Int64] = [:]
        /// Positions the entrypoint reported written: what a member commits.
        var acknowledged: [KafkaTopicPartition: Int64] = [:]
        /// What the group has from this member, so an unchanged position is not committed again.
        var committed: [KafkaTopicPartition: Int64] = [:]
        var closed = false
        /// Why the consumer stopped on its own.
        var failure: KafkaError?
    }

    let consumer: KafkaConsumer
    let cluster: KafkaCluster
    let options: Options
    let membership: Membership
    private let state: LockedState
    private let closing: AsyncStream<Void>.Continuation

    /// How often an `auto` stream commits what it delivered.
    static let autoCommitInterval = Duration.seconds(5)

    private init(
        consumer: KafkaConsumer, cluster: KafkaCluster, options: Options, membership: Membership, state: LockedState
    ) {
        self.consumer = consumer
        self.cluster = cluster
        self.options = options
        self.membership = membership
        self.state = state
        let (closeSignal, closing) = AsyncStream.makeStream(of: Void.self)
        self.closing = closing
        let commitsDelivered = membership == .member && (options.qos == .auto || options.qos == .atLeastOnce)
        // Unstructured: the consumer must run while the entrypoint pulls from this source, and a source lives
        // across the entrypoint's calls with no scope of its own to run it in. The task ends once close() (or
        // deinit) finishes the close signal, or the consumer stops on its own.
        Task {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    do {
                        try await consumer.run()
                    } catch {
                        state.withLock {
                            $0.failure = (error as? KafkaError) ?? KafkaError(.protocolViolation, "\(error)")
                        }
                    }
                    consumer.close()
                }
                if membership == .member && options.qos == .auto {
                    group.addTask {
                        while (try? await Task.sleep(for: Self.autoCommitInterval)) != nil {
                            await Self.commitAcknowledged(consumer, state, options)
                        }
                    }
                }
                for await _ in closeSignal {}
                // What the client has is the group's before this member leaves it.
                if commitsDelivered { await Self.commitAcknowledged(consumer, state, options) }
                consumer.close()
                group.cancelAll()
            }
        }
    }

    /// Commits the positions the entrypoint reported delivered, where they moved since the last commit.
    private static func commitAcknowledged(
        _ consumer: KafkaConsumer, _ state: LockedState, _ options: Options,
        only partitions: Set<KafkaTopicPartition>? = nil
    ) async {
        let offsets = state.withLock { state in
            state.acknowledged.filter { (partitions?.contains($0.key) ?? true) && state.committed[$0.key] != $0.value }
        }
        guard !offsets.isEmpty else { return }
        do throws(KafkaError) {
            try await consumer.commit(offsets)
            state.withLock { $0.committed.merge(offsets) { _, new in new } }
        } catch {
            options.logger.debug("Kafka commit failed", metadata: ["group": "\(options.groupID)", "error": "\(error)"])
        }
    }

    /// Commits a member's delivered positions of partitions the group takes away, and forgets them.
    private final class RevocationCommitter: KafkaRebalanceListener {
        /// Weak: the consumer holds this listener in its configuration.
        private struct WeakConsumer {
            weak var consumer: KafkaConsumer?
        }

        let state: LockedState
        let options: Options
        private let consumer = Mutex(WeakConsumer())

        init(state: LockedState, options: Options) {
            self.state = state
            self.options = options
        }

        func attach(_ consumer: KafkaConsumer) { self.consumer.withLock { $0.consumer = consumer } }

        func partitionsRevoked(_ partitions: [KafkaTopicPartition]) async {
            guard let consumer = consumer.withLock({ $0.consumer }) else { return }
            let revoked = Set(partitions)
            if options.qos == .auto || options.qos == .atLeastOnce {
                await KafkaMessageSource.commitAcknowledged(consumer, state, options, only: revoked)
            }
            state.withLock { state in
                for partition in revoked {
                    state.acknowledged[partition] = nil
                    state.unacknowledged[partition] = nil
                    state.committed[partition] = nil
                }
            }
        }

        func partitionsAssigned(_ partitions: [KafkaTopicPartition]) async {}
    }

    deinit {
        closing.finish()
    }

    // MARK: Opening

    /// A poll: every partition of the selected topics, from the cursor, the group's commits or the reset policy.
    static func poll(
        selection: KafkaTopicSelection, cursor: KafkaCursor?, autoOffsetReset: KafkaEndpointConfiguration.OffsetReset,
        cluster: KafkaCluster, options: Options
    ) async throws -> KafkaMessageSource {
        var partitions: [KafkaTopicPartition] = []
        for topic in try await selection.topicNames(in: cluster) {
            do throws(KafkaError) {
                let metadata = try await cluster.metadata(for: topic)
                partitions += metadata.partitions.map { KafkaTopicPartition(topic: topic, partition: $0.partition) }
            } catch {
                // A topic that does not exist (yet) has nothing to read; anything else is a failure.
                if error.code != .broker(.unknownTopicOrPartition) { throw GatewayError.kafka(error) }
            }
        }
        var starts: [KafkaTopicPartition: Int64] = [:]
        if let cursor {
            let next = cursor.nextOffsets
            for partition in partitions { starts[partition] = next[partition] }
        }
        do throws(KafkaError) {
            let rest = partitions.filter { starts[$0] == nil }
            if !rest.isEmpty {
                let committed = try await cluster.committedOffsets(group: options.groupID, partitions: rest)
                starts.merge(committed) { cursor, _ in cursor }
            }
            let unknown = partitions.filter { starts[$0] == nil }
            if !unknown.isEmpty {
                let spec: KafkaOffsetSpec
                switch autoOffsetReset {
                case .earliest: spec = .earliest
                case .latest: spec = .latest
                case .none: throw KafkaError(.invalidConfiguration, "no committed offset")
                }
                let listed = try await cluster.listOffsets(Dictionary(uniqueKeysWithValues: unknown.map { ($0, spec) }))
                for (partition, offset) in listed { starts[partition] = offset.offset }
            }
        } catch {
            if error.code == .invalidConfiguration { throw GatewayError.kafkaNoOffset(group: options.groupID) }
            throw GatewayError.kafka(error)
        }
        let consumer = KafkaConsumer(cluster: cluster, configuration: consumerConfiguration(autoOffsetReset))
        consumer.assign(starts.mapValues { .exact($0) })
        return KafkaMessageSource(
            consumer: consumer, cluster: cluster, options: options, membership: .standalone, state: LockedState())
    }

    /// A stream: a member of the client's consumer group, starting the cursor's partitions at the cursor.
    static func stream(
        selection: KafkaTopicSelection, cursor: KafkaCursor?, autoOffsetReset: KafkaEndpointConfiguration.OffsetReset,
        cluster: KafkaCluster, options: Options
    ) throws -> KafkaMessageSource {
        var configuration = consumerConfiguration(autoOffsetReset)
        var group = KafkaConsumerGroupConfiguration(groupID: options.groupID)
        // A gateway node that dies leaves its clients' partitions stuck until the session times out: keep it short.
        group.sessionTimeout = .seconds(10)
        group.heartbeatInterval = .seconds(3)
        group.rebalanceTimeout = .seconds(10)
        // Commits are the source's: of what was delivered, never of what was only taken from the consumer.
        group.autoCommitInterval = nil
        configuration.group = group
        let state = LockedState()
        let committer = RevocationCommitter(state: state, options: options)
        configuration.rebalanceListener = committer
        let consumer = KafkaConsumer(cluster: cluster, configuration: configuration)
        committer.attach(consumer)
        do throws(KafkaError) {
            switch selection {
            case .topics(let topics): try consumer.subscribe(topics: topics)
            case .pattern(let pattern): try consumer.subscribe(pattern: pattern)
            }
        } catch {
            throw GatewayError.kafka(error)
        }
        if let cursor { consumer.overrideStartPositions(cursor.nextOffsets) }
        return KafkaMessageSource(
            consumer: consumer, cluster: cluster, options: options, membership: .member, state: state)
    }

    private static func consumerConfiguration(
        _ autoOffsetReset: KafkaEndpointConfiguration.OffsetReset
    ) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration()
        switch autoOffsetReset {
        case .earliest: configuration.autoOffsetReset = .earliest
        case .latest: configuration.autoOffsetReset = .latest
        case .none: configuration.autoOffsetReset = .none
        }
        // Bounded per subscription: a slow client holds back only its own consumer.
        configuration.bufferBytes = 4 * 1024 * 1024
        configuration.fetchMaxWait = .milliseconds(500)
        return configuration
    }

    // MARK: Reading

    func next(maxCount: Int, until deadline: ContinuousClock.Instant?) async throws -> MessagePoll {
        while true {
            if state.withLock({ $0.closed }) { return .ended }
            var wake = ContinuousClock.now + Self.healthCheckInterval
            if let deadline { wake = min(wake, deadline) }
            let records: [KafkaConsumerRecord]?
            do throws(KafkaError) {
                records = try await consumer.poll(maxCount: maxCount, until: Self.nioDeadline(wake))
            } catch {
                throw GatewayError.kafka(error)
            }
            guard let records else {
                if let failure = state.withLock({ $0.failure }) { throw GatewayError.kafka(failure) }
                return .ended
            }
            if records.isEmpty {
                try Task.checkCancellation()
                if let outage = await cluster.currentOutage,
                    NIODeadline.now() - outage.since
                        >= TimeAmount.nanoseconds(Int64(Self.outageGrace / .nanoseconds(1)))
                {
                    throw GatewayError.kafkaUnavailable(outage.error)
                }
                if let deadline, ContinuousClock.now >= deadline { return .timedOut }
                continue
            }
            return .messages(try await handOut(records))
        }
    }

    /// The records as messages with their ids, committed first when the QoS says so.
    private func handOut(_ records: [KafkaConsumerRecord]) async throws -> [Message] {
        // Where each partition stood before this batch: the consumer's positions are already past it.
        var positions = consumer.positions
        for record in records.reversed() { positions[record.topicPartition] = record.offset }
        var messages: [Message] = []
        messages.reserveCapacity(records.count)
        for record in records {
            positions[record.topicPartition] = record.offset + 1
            messages.append(
                Self.message(record, id: KafkaCursor(nextOffsets: positions).text(encoded: options.encodeIDs)))
        }
        switch (options.qos, membership) {
        case (.atMostOnce, _):
            try await commit(positions)
        case (.auto, .standalone):
            // A poll's "auto" commits what it answers with, as a consumer auto-commits on its next poll.
            do {
                try await commit(positions)
            } catch {
                options.logger.debug(
                    "Kafka commit failed", metadata: ["group": "\(options.groupID)", "error": "\(error)"])
            }
        case (.atLeastOnce, _), (.auto, .member):
            state.withLock { $0.unacknowledged.merge(positions) { _, new in new } }
        case (.none, _):
            break
        }
        return messages
    }

    /// A record as a message: value as content, headers as headers, key, topic, partition and offset as metadata.
    static func message(_ record: KafkaConsumerRecord, id: String) -> Message {
        var headers = MessageHeaders()
        for header in record.headers {
            headers.add(name: header.key, value: header.value.map { String(buffer: $0) } ?? "")
        }
        var metadata = [
            "topic": record.topic, "partition": String(record.partition), "offset": String(record.offset),
        ]
        if let key = record.key { metadata["key"] = String(buffer: key) }
        return Message(
            id: id, content: record.value ?? ByteBuffer(), headers: headers, metadata: metadata,
            timestamp: record.timestamp)
    }

    private func commit(_ offsets: [KafkaTopicPartition: Int64]) async throws {
        do throws(KafkaError) {
            switch membership {
            case .standalone: try await cluster.commitOffsets(group: options.groupID, offsets: offsets)
            case .member: try await consumer.commit(offsets)
            }
        } catch {
            throw GatewayError.kafka(error)
        }
    }

    func delivered() async {
        guard options.qos == .atLeastOnce || (options.qos == .auto && membership == .member) else { return }
        let offsets = state.withLock { state -> [KafkaTopicPartition: Int64] in
            defer { state.unacknowledged = [:] }
            state.acknowledged.merge(state.unacknowledged) { _, new in new }
            return state.unacknowledged
        }
        guard !offsets.isEmpty, options.qos == .atLeastOnce else { return }
        switch membership {
        case .standalone:
            do {
                try await commit(offsets)
            } catch {
                options.logger.debug(
                    "Kafka commit failed", metadata: ["group": "\(options.groupID)", "error": "\(error)"])
            }
        case .member:
            // Not awaited: a stream goes on while the commit travels; commits go out in order.
            let logger = options.logger
            let state = state
            consumer.commitAsync(offsets) { result in
                switch result {
                case .success: state.withLock { $0.committed.merge(offsets) { _, new in new } }
                case .failure(let error): logger.debug("Kafka commit failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    var currentCursor: String? {
        let positions = consumer.positions
        return positions.isEmpty ? nil : KafkaCursor(nextOffsets: positions).text(encoded: options.encodeIDs)
    }

    func close() {
        let wasOpen = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        guard wasOpen else { return }
        if !(membership == .member && (options.qos == .auto || options.qos == .atLeastOnce)) {
            // Nothing to commit first: the consumer stops (and leaves its group) now.
            consumer.close()
        }
        closing.finish()
    }

    /// The state, in a box the consumer's task shares.
    private final class LockedState: Sendable {
        private let mutex = Mutex(State())

        func withLock<Result: Sendable>(_ body: (inout State) -> Result) -> Result {
            mutex.withLock { body(&$0) }
        }
    }

    static func nioDeadline(_ instant: ContinuousClock.Instant) -> NIODeadline {
        let remaining = instant - ContinuousClock.now
        let nanoseconds =
            remaining.components.seconds * 1_000_000_000 + remaining.components.attoseconds / 1_000_000_000
        return .now() + .nanoseconds(max(0, nanoseconds))
    }
}
