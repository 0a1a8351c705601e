import KafkaWire
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Keeps a consumer in its group: carries out what ``ConsumerGroupStateMachine`` decides (requests to the group
/// coordinator, the member's callbacks, timers) and feeds the outcomes back to it, one event at a time.
///
/// Besides the state machine's protocol it runs two periodic tasks: auto-commit of the member's consumed
/// positions while stable, and a look at the subscription's topics (a pattern's matches, partition counts) every
/// `topicRefreshInterval`, which makes the group rebalance when they changed.
///
/// The member talks to its coordinator over a connection of its own, not the cluster's shared one: a broker
/// answers the requests of one connection in order and holds JoinGroup and SyncGroup until the rebalance
/// completes, so on a shared connection one member's JoinGroup would hold up other members' heartbeats, and a
/// follower's SyncGroup the leader's (until the rebalance timeout).
///
/// The member's callbacks run one at a time and no heartbeat is sent while one runs: `partitionsAssigned` must
/// return well within the session timeout, `partitionsRevoked` within the rebalance timeout.
final class ConsumerGroupCoordinator: Sendable {
    typealias Action = ConsumerGroupStateMachine.Action

    let cluster: KafkaCluster
    let configuration: KafkaConsumerGroupConfiguration
    let subscription: ConsumerGroupSubscription
    private let member: any ConsumerGroupMember
    private let machine: NIOLockedValueBox<ConsumerGroupStateMachine>
    private let started = NIOLockedValueBox(false)
    private let finished = NIOLockedValueBox(false)
    private let events: AsyncStream<Event>
    private let eventSink: AsyncStream<Event>.Continuation
    private let timers = NIOLockedValueBox<[Timer: Scheduled<Void>]>([:])
    private let coordinatorConnection = NIOLockedValueBox<KafkaConnection?>(nil)
    private let laneID = UInt64.random(in: 1...UInt64.max)
    private let logger: Logger

    private enum Timer: Hashable {
        case heartbeat
        case retry
    }

    /// What happened, for the state machine.
    private enum Event: Sendable {
        case coordinatorLookup(Result<Void, KafkaError>)
        case joinGroupAnswered(Result<KafkaJoinGroupResponse, KafkaError>)
        case assignmentComputed(Result<ComputedAssignment, KafkaError>)
        case syncGroupAnswered(Result<KafkaSyncGroupResponse, KafkaError>)
        case partitionsRevoked
        case partitionsAssigned(Result<Void, KafkaError>)
        case heartbeatTimerFired
        case heartbeatAnswered(Result<KafkaErrorCode, KafkaError>)
        case leaveGroupAnswered(Result<KafkaErrorCode, KafkaError>)
        case retryTimerFired
        case commitFailed(KafkaError, generationID: Int32)
        case topicsRefreshed(topics: [String], partitionCounts: [String: Int32])
        case close
    }

    private struct ComputedAssignment: Sendable {
        var assignment: [String: [String: [Int32]]]
        var partitionCounts: [String: Int32]
    }

    private enum Outcome {
        case running
        case finished
        case failed(KafkaError)
    }

    init(
        cluster: KafkaCluster,
        configuration: KafkaConsumerGroupConfiguration,
        subscription: ConsumerGroupSubscription,
        member: any ConsumerGroupMember
    ) throws(KafkaError) {
        try configuration.validate()
        self.cluster = cluster
        self.configuration = configuration
        self.subscription = subscription
        self.member = member
        self.machine = NIOLockedValueBox(ConsumerGroupStateMachine(configuration: configuration))
        // Unbounded, yet small: at most one event per request in flight, timer and periodic task, and each is
        // taken off before the next action starts.
        (events, eventSink) = AsyncStream.makeStream(of: Event.self)
        var logger = cluster.logger
        logger[metadataKey: "kafka.group"] = "\(configuration.groupID)"
        self.logger = logger
    }

    // MARK: Diagnostics

    /// The partitions the member owns now (after `partitionsAssigned` returned, until revocation starts).
    var currentAssignment: [KafkaTopicPartition] { machine.withLockedValue { $0.ownedPartitions } }
    /// The generation of the last join, -1 when there is none.
    var generation: Int32 { machine.withLockedValue { $0.generationID } }
    /// The member id the coordinator gave, empty when there is none.
    var memberID: String { machine.withLockedValue { $0.memberID } }
    /// Whether this member leads the group (assigns the partitions).
    var isLeader: Bool { machine.withLockedValue { $0.isLeader } }
    /// When the coordinator last confirmed the membership (a heartbeat answered, or the assignment taken), while
    /// the member is stable; nil while it is not.
    var lastConfirmedAt: NIODeadline? {
        machine.withLockedValue { machine in
            guard case .stable = machine.state else { return nil }
            return machine.lastHeartbeatAnsweredAt
        }
    }

    // MARK: Running

    /// Joins the group and stays in it until `close()` or cancellation; then commits (auto-commit on), revokes
    /// the member's partitions and leaves the group before returning. Throws when membership fails for good
    /// (authorization, an invalid group, an assignor the group cannot agree on).
    func run() async throws {
        let alreadyStarted = started.withLockedValue { started in
            defer { started = true }
            return started
        }
        guard !alreadyStarted else {
            throw KafkaError(.invalidConfiguration, "group '\(configuration.groupID)': run() was called twice")
        }
        // Unstructured so that cancelling `run()` still lets the member revoke and leave, as `close()` does,
        // instead of vanishing mid-protocol; the leave is bounded by the request timeout.
        let loop = Task { try await self.runLoop() }
        try await withTaskCancellationHandler {
            try await loop.value
        } onCancel: {
            self.close()
        }
    }

    /// Leaves the group: `run()` commits, revokes and sends LeaveGroup, then returns.
    func close() {
        eventSink.yield(.close)
    }

    private func runLoop() async throws {
        let (topics, resolved) = await initialTopics()
        let outcome = await withDiscardingTaskGroup { group in
            group.addTask {
                // A pattern that could not be resolved at start is tried again soon rather than in 30 s.
                let firstDelay = resolved ? self.configuration.topicRefreshInterval : self.configuration.retryBackoffMax
                await self.refreshTopicsPeriodically(firstDelay: firstDelay)
            }
            if let interval = configuration.autoCommitInterval {
                group.addTask { await self.autoCommitPeriodically(every: interval) }
            }
            let start = machine.withLockedValue { $0.start(topics: topics, now: .now()) }
            var outcome = perform(start, in: &group)
            if case .running = outcome {
                for await event in events {
                    log(event)
                    let action = machine.withLockedValue { apply(event, to: &$0, now: .now()) }
                    outcome = perform(action, in: &group)
                    if case .running = outcome { continue }
                    break
                }
            }
            // Stops the periodic tasks; requests in flight are answered and their events dropped.
            group.cancelAll()
            return outcome
        }
        eventSink.finish()
        finished.withLockedValue { $0 = true }
        forgetCoordinatorConnection()
        timers.withLockedValue { timers in
            for timer in timers.values { timer.cancel() }
            timers.removeAll()
        }
        if case .failed(let error) = outcome {
            logger.error("consumer group membership failed", metadata: ["error": "\(error)"])
            throw error
        }
    }

    private func apply(_ event: Event, to machine: inout ConsumerGroupStateMachine, now: NIODeadline) -> Action {
        switch event {
        case .coordinatorLookup(.success):
            return machine.coordinatorFound(now: now)
        case .coordinatorLookup(.failure(let error)):
            return machine.coordinatorLookupFailed(error, now: now)
        case .joinGroupAnswered(.success(let response)):
            return machine.joinGroupResponseReceived(response, now: now)
        case .joinGroupAnswered(.failure(let error)):
            return machine.joinGroupFailed(error, now: now)
        case .assignmentComputed(.success(let computed)):
            return machine.assignmentComputed(
                computed.assignment,
                partitionCounts: computed.partitionCounts,
                now: now
            )
        case .assignmentComputed(.failure(let error)):
            return machine.assignmentFailed(error, now: now)
        case .syncGroupAnswered(.success(let response)):
            return machine.syncGroupResponseReceived(response, now: now)
        case .syncGroupAnswered(.failure(let error)):
            return machine.syncGroupFailed(error, now: now)
        case .partitionsRevoked:
            return machine.partitionsRevoked(now: now)
        case .partitionsAssigned(.success):
            return machine.partitionsAssigned(now: now)
        case .partitionsAssigned(.failure(let error)):
            return machine.offsetFetchFailed(error, now: now)
        case .heartbeatTimerFired:
            return machine.heartbeatTimerFired(now: now)
        case .heartbeatAnswered(.success(let errorCode)):
            return machine.heartbeatResponseReceived(errorCode: errorCode, now: now)
        case .heartbeatAnswered(.failure(let error)):
            return machine.heartbeatFailed(error, now: now)
        case .leaveGroupAnswered(.success(let errorCode)):
            return machine.leaveGroupResponseReceived(errorCode: errorCode, now: now)
        case .leaveGroupAnswered(.failure(let error)):
            return machine.leaveGroupFailed(error, now: now)
        case .retryTimerFired:
            return machine.retryTimerFired(now: now)
        case .commitFailed(let error, let generationID):
            return machine.commitFailed(error, generationID: generationID, now: now)
        case .topicsRefreshed(let topics, let partitionCounts):
            return machine.subscriptionChanged(topics: topics, partitionCounts: partitionCounts, now: now)
        case .close:
            return machine.close(now: now)
        }
    }

    private func log(_ event: Event) {
        switch event {
        case .joinGroupAnswered(.success(let response)):
            logger.debug(
                "JoinGroup answered",
                metadata: [
                    "error": "\(KafkaErrorCode(rawValue: response.errorCode).name)",
                    "generation": "\(response.generationId)", "kafka.member": "\(response.memberId)",
                    "leader": "\(response.leader)", "protocol": "\(response.protocolName ?? "")",
                    "members": "\(response.members.count)",
                ]
            )
        case .syncGroupAnswered(.success(let response)) where response.errorCode != 0:
            logger.debug(
                "SyncGroup answered", metadata: ["error": "\(KafkaErrorCode(rawValue: response.errorCode).name)"])
        case .heartbeatAnswered(.success(let errorCode)) where errorCode != .none:
            logger.debug("Heartbeat answered", metadata: ["error": "\(errorCode.name)"])
        case .joinGroupAnswered(.failure(let error)), .syncGroupAnswered(.failure(let error)),
            .heartbeatAnswered(.failure(let error)), .leaveGroupAnswered(.failure(let error)),
            .coordinatorLookup(.failure(let error)), .assignmentComputed(.failure(let error)),
            .partitionsAssigned(.failure(let error)):
            logger.debug("group request failed", metadata: ["error": "\(error)"])
        case .commitFailed(let error, _):
            logger.debug("commit failed", metadata: ["error": "\(error)"])
        default:
            break
        }
    }

    private func perform(_ action: Action, in group: inout DiscardingTaskGroup) -> Outcome {
        let groupID = configuration.groupID
        let sink = eventSink
        switch action {
        case .none:
            break
        case .findCoordinator:
            logger.debug("looking up the group coordinator")
            forgetCoordinatorConnection()
            group.addTask {
                await self.cluster.invalidateCoordinator(for: groupID)
                do throws(KafkaError) {
                    _ = try await self.cluster.groupCoordinator(for: groupID, refresh: true)
                    let connection = try await self.connectionToCoordinator()
                    self.logger.debug("group coordinator found", metadata: ["kafka.broker": "\(connection.address)"])
                    sink.yield(.coordinatorLookup(.success(())))
                } catch {
                    sink.yield(.coordinatorLookup(.failure(error)))
                }
            }
        case .sendJoinGroup(let request):
            logger.debug(
                "joining",
                metadata: ["kafka.member": "\(request.memberId)", "reason": "\(request.reason ?? "start")"]
            )
            let extraTimeout = configuration.rebalanceTimeout
            group.addTask {
                sink.yield(.joinGroupAnswered(await self.coordinatorRequest(request, extraTimeout: extraTimeout)))
            }
        case .computeAssignment(let request):
            logger.debug(
                "assigning as the leader",
                metadata: ["assignor": "\(request.assignor)", "members": "\(request.members.count)"]
            )
            group.addTask {
                do throws(KafkaError) {
                    let counts = try await self.partitionCounts(for: request.topics)
                    let assignment = request.assignor.assign(members: request.members, partitionCounts: counts)
                    sink.yield(.assignmentComputed(.success(.init(assignment: assignment, partitionCounts: counts))))
                } catch {
                    sink.yield(.assignmentComputed(.failure(error)))
                }
            }
        case .sendSyncGroup(let request):
            let extraTimeout = configuration.rebalanceTimeout
            group.addTask {
                sink.yield(.syncGroupAnswered(await self.coordinatorRequest(request, extraTimeout: extraTimeout)))
            }
        case .revokePartitions(let partitions, let commitFirst):
            logger.debug("revoking partitions", metadata: ["partitions": "\(partitions)"])
            group.addTask {
                if commitFirst {
                    let owned = Set(partitions)
                    let positions = self.member.consumedPositions().filter { owned.contains($0.key) }
                    do {
                        try await self.commit(positions)
                    } catch {
                        self.logger.info("commit before revocation failed", metadata: ["error": "\(error)"])
                    }
                }
                await self.member.partitionsRevoked(partitions)
                sink.yield(.partitionsRevoked)
            }
        case .assignPartitions(let partitions):
            logger.debug(
                "assigned",
                metadata: ["partitions": "\(partitions)", "generation": "\(generation)", "kafka.member": "\(memberID)"]
            )
            group.addTask {
                do throws(KafkaError) {
                    let committed = partitions.isEmpty ? [:] : try await self.fetchCommittedOffsets(partitions)
                    let offsets = Dictionary(uniqueKeysWithValues: partitions.map { ($0, committed[$0]) })
                    await self.member.partitionsAssigned(offsets)
                    sink.yield(.partitionsAssigned(.success(())))
                } catch {
                    sink.yield(.partitionsAssigned(.failure(error)))
                }
            }
        case .scheduleHeartbeat(let deadline):
            schedule(.heartbeat, at: deadline, event: .heartbeatTimerFired)
        case .sendHeartbeat(let request):
            logger.trace("heartbeat", metadata: ["generation": "\(request.generationId)"])
            group.addTask {
                let result = await self.coordinatorRequest(request)
                sink.yield(.heartbeatAnswered(result.map { KafkaErrorCode(rawValue: $0.errorCode) }))
            }
        case .sendLeaveGroup(let request):
            logger.debug("leaving", metadata: ["kafka.member": "\(request.memberId)"])
            group.addTask {
                let result = await self.coordinatorRequest(request)
                sink.yield(.leaveGroupAnswered(result.map { KafkaErrorCode(rawValue: $0.errorCode) }))
            }
        case .backoff(let deadline):
            schedule(.retry, at: deadline, event: .retryTimerFired)
        case .fail(let error):
            return .failed(error)
        case .finished:
            logger.debug("left the group")
            return .finished
        }
        return .running
    }

    private func schedule(_ timer: Timer, at deadline: NIODeadline, event: Event) {
        let eventLoop = cluster.eventLoopGroup.any()
        let sink = eventSink
        timers.withLockedValue { timers in
            timers[timer]?.cancel()
            timers[timer] = eventLoop.scheduleTask(deadline: deadline) { sink.yield(event) }
        }
    }

    // MARK: Offsets

    /// Commits `offsets` (the offset of the next record to consume, per partition) in the current generation.
    ///
    /// Throws the coordinator's error by its Kafka name: REBALANCE_IN_PROGRESS while the group rebalances (also
    /// without asking the coordinator, when this member is between generations), UNKNOWN_MEMBER_ID or
    /// ILLEGAL_GENERATION when the group moved on without this member (which then rejoins).
    func commit(_ offsets: [KafkaTopicPartition: Int64]) async throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        let groupID = configuration.groupID
        guard let (generationID, memberID) = machine.withLockedValue({ $0.commitGeneration }) else {
            throw KafkaError.broker(
                .rebalanceInProgress, "OffsetCommit for group '\(groupID)': the group is rebalancing")
        }
        let request = ConsumerGroupOffsets.commitRequest(
            groupID: groupID,
            generationID: generationID,
            memberID: memberID,
            groupInstanceID: configuration.groupInstanceID,
            offsets: offsets
        )
        do throws(KafkaError) {
            let connection = try await connectionToCoordinator()
            let response = try await connection.send(request)
            try ConsumerGroupOffsets.checkCommit(response, groupID: groupID)
        } catch {
            eventSink.yield(.commitFailed(error, generationID: generationID))
            throw error
        }
    }

    /// The group's committed offsets for `partitions`; partitions with nothing committed are left out. Retries
    /// a few times when the coordinator moved or is loading.
    func committedOffsets(
        for partitions: [KafkaTopicPartition]
    ) async throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        var attempt = 0
        while true {
            do throws(KafkaError) {
                return try await fetchCommittedOffsets(partitions)
            } catch {
                attempt += 1
                guard error.isRetriable, attempt < 4 else { throw error }
                switch error.code {
                case .broker(.notCoordinator), .broker(.coordinatorNotAvailable), .connectionFailed:
                    forgetCoordinatorConnection()
                    await cluster.invalidateCoordinator(for: configuration.groupID)
                default:
                    break
                }
                try? await Task.sleep(nanoseconds: UInt64(configuration.retryBackoff.nanoseconds << attempt))
            }
        }
    }

    private func fetchCommittedOffsets(
        _ partitions: [KafkaTopicPartition]
    ) async throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        guard !partitions.isEmpty else { return [:] }
        let groupID = configuration.groupID
        let connection = try await connectionToCoordinator()
        let version = try connection.version(for: KafkaOffsetFetchRequest.self)
        let request = ConsumerGroupOffsets.fetchRequest(groupID: groupID, partitions: partitions)
        let response = try await connection.send(request, version: version)
        return try ConsumerGroupOffsets.fetchedOffsets(response, version: version, groupID: groupID)
    }

    // MARK: Requests and metadata

    private func coordinatorRequest<Request: KafkaRequestMessage>(
        _ request: Request,
        extraTimeout: TimeAmount = .zero
    ) async -> Result<Request.Response, KafkaError> {
        do throws(KafkaError) {
            let connection = try await connectionToCoordinator()
            return .success(try await connection.send(request, extraTimeout: extraTimeout))
        } catch {
            return .failure(error)
        }
    }

    /// This member's own connection to the coordinator (see the type's documentation), opened when needed to the
    /// coordinator the cluster knows (looked up when it knows none).
    private func connectionToCoordinator() async throws(KafkaError) -> KafkaConnection {
        if let connection = coordinatorConnection.withLockedValue({ $0 }), connection.isActive {
            return connection
        }
        // Out of the group (committedOffsets after run() returned): no own connection that nothing would close.
        if finished.withLockedValue({ $0 }) {
            return try await cluster.groupCoordinator(for: configuration.groupID)
        }
        let address = try await cluster.groupCoordinator(for: configuration.groupID).address
        // A lane of the cluster's: the member's own connection, opened with the cluster's TLS and backoff, and
        // closed with the cluster.
        let connection = try await cluster.connection(to: address, lane: lane)
        coordinatorConnection.withLockedValue { $0 = connection }
        return connection
    }

    /// Closes this member's coordinator connection: the coordinator moved, or the member is done.
    private func forgetCoordinatorConnection() {
        let connection = coordinatorConnection.withLockedValue { current in
            defer { current = nil }
            return current
        }
        connection?.close()
    }

    /// The name of this member's connection lane to its coordinator.
    private var lane: String { "group-\(configuration.groupID)-\(laneID)" }

    /// Partition counts of those of `topics` that exist.
    private func partitionCounts(for topics: [String]) async throws(KafkaError) -> [String: Int32] {
        guard !topics.isEmpty else { return [:] }
        try await cluster.refreshMetadata(topics: topics)
        let known = await cluster.knownTopics
        var counts: [String: Int32] = [:]
        for topic in topics {
            if let metadata = known[topic], metadata.partitionCount > 0 {
                counts[topic] = Int32(metadata.partitionCount)
            }
        }
        return counts
    }

    private func subscribedTopics() async throws(KafkaError) -> [String] {
        switch subscription {
        case .topics:
            return subscription.topics(among: [])
        case .pattern:
            return subscription.topics(among: try await cluster.allTopicNames())
        }
    }

    /// The topics to join with, and whether they could be looked up.
    private func initialTopics() async -> ([String], Bool) {
        do throws(KafkaError) {
            return (try await subscribedTopics(), true)
        } catch {
            logger.info(
                "the subscription's topics could not be listed yet",
                metadata: ["subscription": "\(subscription)", "error": "\(error)"]
            )
            return ([], false)
        }
    }

    private func refreshTopicsPeriodically(firstDelay: TimeAmount) async {
        var delay = firstDelay
        while true {
            do {
                try await Task.sleep(nanoseconds: UInt64(delay.nanoseconds))
            } catch {
                return
            }
            delay = configuration.topicRefreshInterval
            do throws(KafkaError) {
                let topics = try await subscribedTopics()
                let watched = Set(topics).union(machine.withLockedValue { $0.topicsToWatch }).sorted()
                let counts = try await partitionCounts(for: watched)
                eventSink.yield(.topicsRefreshed(topics: topics, partitionCounts: counts))
            } catch {
                logger.debug("topic refresh failed", metadata: ["error": "\(error)"])
            }
        }
    }

    private func autoCommitPeriodically(every interval: TimeAmount) async {
        while true {
            do {
                try await Task.sleep(nanoseconds: UInt64(interval.nanoseconds))
            } catch {
                return
            }
            let owned = machine.withLockedValue { machine -> Set<KafkaTopicPartition> in
                guard case .stable = machine.state else { return [] }
                return Set(machine.ownedPartitions)
            }
            guard !owned.isEmpty else { continue }
            let positions = member.consumedPositions().filter { owned.contains($0.key) }
            do {
                try await commit(positions)
            } catch {
                logger.debug("auto-commit failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
