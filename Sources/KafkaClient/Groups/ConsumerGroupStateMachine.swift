import KafkaWire
import NIOCore

/// One member's life in a classic consumer group with eager rebalancing, as a pure value: each method is an
/// event (a response arrived, a timer fired, the consumer closed) and returns the one ``Action`` to carry out.
///
/// The driver (``ConsumerGroupCoordinator``) sends the requests, runs the member's callbacks and timers, and
/// reports their outcome back as events; the time is always passed in, so tests drive it with a manual clock.
///
/// The error handling follows the Java client's `AbstractCoordinator` and `ConsumerCoordinator`:
/// - REBALANCE_IN_PROGRESS: rejoin; eager, so all partitions are revoked first (after a last commit).
/// - UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID: forget member id and generation, rejoin; ILLEGAL_GENERATION: forget
///   the generation, keep the member id, rejoin. The partitions are lost: revoked without committing.
/// - NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS, a lost connection: look the
///   coordinator up again after a backoff, then carry on where the member was.
/// - MEMBER_ID_REQUIRED (JoinGroup v4+): join again at once with the member id the coordinator gave.
/// - Authorization, invalid group, inconsistent protocol and other non-retriable errors: fail.
struct ConsumerGroupStateMachine {
    struct Configuration: Sendable {
        var groupID: String
        var groupInstanceID: String?
        var sessionTimeout: TimeAmount
        var heartbeatInterval: TimeAmount
        var rebalanceTimeout: TimeAmount
        var assignors: [KafkaPartitionAssignor]
        /// Whether partitions are committed before they are revoked (auto-commit on).
        var commitsBeforeRevoking: Bool
        var retryBackoff: TimeAmount
        var retryBackoffMax: TimeAmount

        init(_ group: KafkaConsumerGroupConfiguration) {
            groupID = group.groupID
            groupInstanceID = group.groupInstanceID
            sessionTimeout = group.sessionTimeout
            heartbeatInterval = group.heartbeatInterval
            rebalanceTimeout = group.rebalanceTimeout
            assignors = group.assignors
            commitsBeforeRevoking = group.autoCommitInterval != nil
            retryBackoff = group.retryBackoff
            retryBackoffMax = group.retryBackoffMax
        }
    }

    /// What the driver does next.
    enum Action: Hashable, Sendable {
        /// Nothing (an event that no longer matters, or one that only changed the state).
        case none
        /// Looks the coordinator up afresh (forgetting the cached one); reports `coordinatorFound` or
        /// `coordinatorLookupFailed`.
        case findCoordinator
        /// Reports `joinGroupResponseReceived` or `joinGroupFailed`. The coordinator may hold the request for the
        /// rebalance timeout.
        case sendJoinGroup(KafkaJoinGroupRequest)
        /// The leader's turn: fetch partition counts for `topics`, run the assignor, report `assignmentComputed`
        /// or `assignmentFailed`.
        case computeAssignment(AssignmentRequest)
        /// Reports `syncGroupResponseReceived` or `syncGroupFailed`. The coordinator may hold the request until
        /// the leader's assignment arrives.
        case sendSyncGroup(KafkaSyncGroupRequest)
        /// Commits the consumed positions of `partitions` first when `commitFirst` (ignoring a failure), then
        /// tells the member it lost them; reports `partitionsRevoked`.
        case revokePartitions([KafkaTopicPartition], commitFirst: Bool)
        /// Fetches the committed offsets of `partitions` and hands them to the member; reports
        /// `partitionsAssigned`, or `offsetFetchFailed`.
        case assignPartitions([KafkaTopicPartition])
        /// Calls `heartbeatTimerFired` at the deadline (replacing any earlier heartbeat timer).
        case scheduleHeartbeat(at: NIODeadline)
        /// Reports `heartbeatResponseReceived` or `heartbeatFailed`.
        case sendHeartbeat(KafkaHeartbeatRequest)
        /// Reports `leaveGroupResponseReceived` or `leaveGroupFailed`.
        case sendLeaveGroup(KafkaLeaveGroupRequest)
        /// Calls `retryTimerFired` at the deadline.
        case backoff(retryAt: NIODeadline)
        /// The membership ended with this error (owned partitions were revoked before).
        case fail(KafkaError)
        /// The member left the group (owned partitions were revoked before).
        case finished
    }

    /// What the leader assigns: every member's subscription, with the assignor the coordinator chose.
    struct AssignmentRequest: Hashable, Sendable {
        var assignor: KafkaPartitionAssignor
        var members: [KafkaGroupMemberSubscription]
        /// All topics any member subscribes to: the partition counts the assignor needs.
        var topics: [String]
    }

    /// What to pick up again once the coordinator is reachable.
    enum Resumption: Hashable, Sendable {
        case join
        /// Fetch the committed offsets of the assignment again and hand it to the member.
        case assign([KafkaTopicPartition])
        /// Heartbeat in the current generation (the member keeps its partitions meanwhile, as Java's does).
        case heartbeat
    }

    enum Retry: Hashable, Sendable {
        case findCoordinator(then: Resumption)
        case resume(Resumption)
    }

    /// What follows a revocation.
    enum AfterRevocation: Hashable, Sendable {
        case join
        case leave
        case fail(KafkaError)
    }

    enum State: Hashable, Sendable {
        case unjoined
        /// A FindCoordinator lookup is under way.
        case findingCoordinator(then: Resumption)
        /// Waiting for `retryTimerFired`.
        case backingOff(Retry, until: NIODeadline)
        /// JoinGroup is under way.
        case joining
        /// The leader is computing the assignment.
        case computingAssignment
        /// SyncGroup is under way.
        case syncing
        /// The member's `partitionsRevoked` (and the commit before it) is under way.
        case revoking(then: AfterRevocation)
        /// OffsetFetch and the member's `partitionsAssigned` are under way.
        case assigning([KafkaTopicPartition])
        /// In the group, heartbeating.
        case stable
        /// LeaveGroup is under way.
        case leaving
        case left
        case failed(KafkaError)
    }

    let configuration: Configuration
    private(set) var state: State = .unjoined
    /// The member id the coordinator gave; empty before the first join and after a reset.
    private(set) var memberID = ""
    /// The generation of the last successful join; -1 before and after a reset.
    private(set) var generationID: Int32 = -1
    /// The assignment protocol the coordinator chose in the last join.
    private(set) var protocolName: String?
    /// The leader's member id in the last join.
    private(set) var leaderID: String?
    /// The partitions the member owns: set when `partitionsAssigned` completes, cleared when revoking starts.
    private(set) var ownedPartitions: [KafkaTopicPartition] = []
    /// The topics this member subscribes to, sorted.
    private(set) var subscribedTopics: [String] = []
    /// As the leader: every member's topics and the partition counts the last assignment was computed with.
    private(set) var assignedTopics: [String] = []
    /// The partition counts the leader's last assignment used; nil from the next join until the next assignment
    /// (a topic refresh meanwhile must not compare against the previous generation's counts).
    private var assignedPartitionCounts: [String: Int32]?
    /// A rejoin asked for while the member could not rejoin at once; carried out at the next chance.
    private var pendingRejoinReason: String?
    private var isClosing = false
    private var heartbeatInFlight = false
    private var nextHeartbeatAt: NIODeadline = .uptimeNanoseconds(0)
    /// When the coordinator last confirmed the membership (a heartbeat answered, or the assignment taken).
    private(set) var lastHeartbeatAnsweredAt: NIODeadline = .uptimeNanoseconds(0)
    private var consecutiveFailures = 0

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    init(configuration: KafkaConsumerGroupConfiguration) {
        self.init(configuration: Configuration(configuration))
    }

    /// Whether this member led the last join.
    var isLeader: Bool { !memberID.isEmpty && leaderID == memberID }

    /// The topics whose partition counts matter to this member: its own, and as the leader every member's.
    var topicsToWatch: [String] {
        isLeader ? Set(subscribedTopics).union(assignedTopics).sorted() : subscribedTopics
    }

    /// The generation and member id an OffsetCommit may use now, or nil while the group is rebalancing (Java's
    /// `generationIfStable`; the commit before a revocation still uses the generation that owned the partitions).
    var commitGeneration: (generationID: Int32, memberID: String)? {
        guard generationID >= 0, !memberID.isEmpty else { return nil }
        switch state {
        case .stable, .revoking, .assigning:
            return (generationID, memberID)
        case .findingCoordinator(then: .heartbeat), .backingOff(.findCoordinator(then: .heartbeat), _),
            .findingCoordinator(then: .assign), .backingOff(.findCoordinator(then: .assign), _),
            .backingOff(.resume(.assign), _):
            return (generationID, memberID)
        default:
            return nil
        }
    }

    // MARK: Starting and coordinator discovery

    /// The consumer starts: look the coordinator up, then join subscribing to `topics`.
    mutating func start(topics: [String], now: NIODeadline) -> Action {
        guard case .unjoined = state else { return .none }
        subscribedTopics = Set(topics).sorted()
        state = .findingCoordinator(then: .join)
        return .findCoordinator
    }

    mutating func coordinatorFound(now: NIODeadline) -> Action {
        guard case .findingCoordinator(let resumption) = state else { return .none }
        return resume(resumption, now: now)
    }

    mutating func coordinatorLookupFailed(_ error: KafkaError, now: NIODeadline) -> Action {
        guard case .findingCoordinator(let resumption) = state else { return .none }
        guard error.isRetriable else { return fail(error) }
        return backoff(.findCoordinator(then: resumption), now: now)
    }

    mutating func retryTimerFired(now: NIODeadline) -> Action {
        guard case .backingOff(let retry, let until) = state else { return .none }
        guard now >= until else { return .backoff(retryAt: until) }
        switch retry {
        case .findCoordinator(let resumption):
            state = .findingCoordinator(then: resumption)
            return .findCoordinator
        case .resume(let resumption):
            return resume(resumption, now: now)
        }
    }

    // MARK: Joining

    mutating func joinGroupResponseReceived(_ response: KafkaJoinGroupResponse, now: NIODeadline) -> Action {
        guard case .joining = state else { return .none }
        let code = KafkaErrorCode(rawValue: response.errorCode)
        switch code {
        case .none:
            consecutiveFailures = 0
            memberID = response.memberId
            generationID = response.generationId
            protocolName = response.protocolName
            leaderID = response.leader
            if isClosing { return leave(now: now) }
            guard isLeader, !response.skipAssignment else {
                state = .syncing
                return syncGroup(assignments: [])
            }
            return assignAsLeader(response, now: now)
        case .memberIdRequired:
            // KIP-394: the coordinator knows the member only once it joins again with this id.
            memberID = response.memberId
            return join(now: now)
        case .unknownMemberId, .fencedInstanceId:
            resetMembership()
            return join(now: now)
        case .illegalGeneration:
            generationID = -1
            return join(now: now)
        case .rebalanceInProgress:
            return backoff(.resume(.join), now: now)
        default:
            return handleOtherError(code, request: "JoinGroup", resumption: .join, now: now)
        }
    }

    mutating func joinGroupFailed(_ error: KafkaError, now: NIODeadline) -> Action {
        guard case .joining = state else { return .none }
        return requestFailed(error, resumption: .join, now: now)
    }

    mutating func assignmentComputed(
        _ assignment: [String: [String: [Int32]]],
        partitionCounts: [String: Int32],
        now: NIODeadline
    ) -> Action {
        guard case .computingAssignment = state else { return .none }
        if isClosing { return leave(now: now) }
        assignedPartitionCounts = partitionCounts.filter { assignedTopics.contains($0.key) }
        var assignments: [KafkaSyncGroupRequest.SyncGroupRequestAssignment] = []
        for memberID in assignment.keys.sorted() {
            do {
                let bytes = try ConsumerProtocol.assignmentMetadata(assignment[memberID]!)
                assignments.append(.init(memberId: memberID, assignment: bytes))
            } catch {
                return fail(error)
            }
        }
        state = .syncing
        return syncGroup(assignments: assignments)
    }

    mutating func assignmentFailed(_ error: KafkaError, now: NIODeadline) -> Action {
        guard case .computingAssignment = state else { return .none }
        if isClosing { return leave(now: now) }
        guard error.isRetriable else { return fail(error) }
        return backoff(.resume(.join), now: now)
    }

    mutating func syncGroupResponseReceived(_ response: KafkaSyncGroupResponse, now: NIODeadline) -> Action {
        guard case .syncing = state else { return .none }
        let code = KafkaErrorCode(rawValue: response.errorCode)
        switch code {
        case .none:
            let partitions: [KafkaTopicPartition]
            do {
                partitions = try ConsumerProtocol.decodeAssignment(response.assignment)
            } catch {
                return fail(error)
            }
            consecutiveFailures = 0
            if isClosing { return leave(now: now) }
            // The subscription changed while joining: this assignment is already stale.
            if pendingRejoinReason != nil { return join(now: now) }
            state = .assigning(partitions)
            return .assignPartitions(partitions)
        case .rebalanceInProgress:
            return join(now: now)
        case .unknownMemberId, .fencedInstanceId:
            resetMembership()
            return join(now: now)
        case .illegalGeneration:
            generationID = -1
            return join(now: now)
        default:
            return handleOtherError(code, request: "SyncGroup", resumption: .join, now: now)
        }
    }

    mutating func syncGroupFailed(_ error: KafkaError, now: NIODeadline) -> Action {
        guard case .syncing = state else { return .none }
        return requestFailed(error, resumption: .join, now: now)
    }

    // MARK: Assignment and revocation

    /// The member took its assignment (`assignPartitions` completed).
    mutating func partitionsAssigned(now: NIODeadline) -> Action {
        guard case .assigning(let partitions) = state else { return .none }
        ownedPartitions = partitions
        if isClosing { return revoke(then: .leave, commitFirst: true) }
        if let reason = pendingRejoinReason { return rejoin(reason: reason, commitFirst: true, now: now) }
        state = .stable
        heartbeatInFlight = false
        lastHeartbeatAnsweredAt = now
        nextHeartbeatAt = now + configuration.heartbeatInterval
        return .scheduleHeartbeat(at: nextHeartbeatAt)
    }

    /// The committed offsets for the assignment could not be fetched.
    mutating func offsetFetchFailed(_ error: KafkaError, now: NIODeadline) -> Action {
        guard case .assigning(let partitions) = state else { return .none }
        if isClosing { return leave(now: now) }
        switch error.code {
        case .broker(.coordinatorLoadInProgress), .broker(.unstableOffsetCommit):
            return backoff(.resume(.assign(partitions)), now: now)
        case .broker(.notCoordinator), .broker(.coordinatorNotAvailable), .connectionFailed, .timedOut:
            return coordinatorLost(then: .assign(partitions), now: now)
        default:
            guard error.isRetriable else { return fail(error) }
            return backoff(.resume(.assign(partitions)), now: now)
        }
    }

    /// The member let its partitions go (`revokePartitions` completed).
    mutating func partitionsRevoked(now: NIODeadline) -> Action {
        guard case .revoking(let next) = state else { return .none }
        switch next {
        case .join:
            return isClosing ? leave(now: now) : join(now: now)
        case .leave:
            return leave(now: now)
        case .fail(let error):
            state = .failed(error)
            return .fail(error)
        }
    }

    // MARK: Heartbeats

    mutating func heartbeatTimerFired(now: NIODeadline) -> Action {
        guard case .stable = state, !heartbeatInFlight else { return .none }
        // A timer from an earlier schedule: the next heartbeat is not due yet.
        guard now >= nextHeartbeatAt else { return .scheduleHeartbeat(at: nextHeartbeatAt) }
        if now - lastHeartbeatAnsweredAt >= configuration.sessionTimeout {
            // No answer for a whole session: the coordinator may be gone (Java marks it unknown here too).
            return coordinatorLost(then: .heartbeat, now: now)
        }
        return sendHeartbeat(now: now)
    }

    mutating func heartbeatResponseReceived(errorCode: KafkaErrorCode, now: NIODeadline) -> Action {
        guard case .stable = state, heartbeatInFlight else { return .none }
        heartbeatInFlight = false
        switch errorCode {
        case .none:
            consecutiveFailures = 0
            lastHeartbeatAnsweredAt = now
            return .scheduleHeartbeat(at: max(nextHeartbeatAt, now))
        case .rebalanceInProgress:
            return rejoin(reason: "the group is rebalancing", commitFirst: true, now: now)
        case .unknownMemberId, .fencedInstanceId:
            resetMembership()
            return rejoin(reason: "the coordinator answered \(errorCode.name)", commitFirst: false, now: now)
        case .illegalGeneration:
            generationID = -1
            return rejoin(reason: "the coordinator answered \(errorCode.name)", commitFirst: false, now: now)
        case .notCoordinator, .coordinatorNotAvailable, .coordinatorLoadInProgress:
            return coordinatorLost(then: .heartbeat, now: now)
        default:
            guard errorCode.isRetriable, !Self.isFatal(errorCode) else {
                return fail(KafkaError.broker(errorCode, "Heartbeat for group '\(configuration.groupID)'"))
            }
            nextHeartbeatAt = now + retryDelay()
            return .scheduleHeartbeat(at: nextHeartbeatAt)
        }
    }

    mutating func heartbeatFailed(_ error: KafkaError, now: NIODeadline) -> Action {
        guard case .stable = state, heartbeatInFlight else { return .none }
        heartbeatInFlight = false
        return requestFailed(error, resumption: .heartbeat, now: now)
    }

    // MARK: Commits and subscription changes

    /// An OffsetCommit made with `generationID` failed: the group may have moved on without this member.
    mutating func commitFailed(_ error: KafkaError, generationID committedGeneration: Int32, now: NIODeadline) -> Action
    {
        guard case .stable = state, committedGeneration == generationID else { return .none }
        switch error.code {
        case .broker(.rebalanceInProgress):
            // The coordinator refuses commits once the next generation is forming: a further commit before the
            // revocation would fail the same way.
            return rejoin(reason: "a commit found the group rebalancing", commitFirst: false, now: now)
        case .broker(.unknownMemberId), .broker(.fencedInstanceId):
            resetMembership()
            return rejoin(reason: "a commit was answered \(error.name)", commitFirst: false, now: now)
        case .broker(.illegalGeneration):
            generationID = -1
            return rejoin(reason: "a commit was answered \(error.name)", commitFirst: false, now: now)
        case .broker(.notCoordinator), .broker(.coordinatorNotAvailable):
            // An in-flight heartbeat reports the same trouble itself.
            guard !heartbeatInFlight else { return .none }
            return coordinatorLost(then: .heartbeat, now: now)
        default:
            return .none
        }
    }

    /// The subscription's topics or their partition counts were looked up again. The member rejoins when its
    /// topics changed (a pattern matches other topics), the leader also when a partition count of any member's
    /// topic changed.
    mutating func subscriptionChanged(
        topics: [String],
        partitionCounts: [String: Int32],
        now: NIODeadline
    ) -> Action {
        let topics = Set(topics).sorted()
        var reason: String?
        if topics != subscribedTopics {
            subscribedTopics = topics
            reason = "the subscription changed"
        } else if isLeader, let assignedPartitionCounts,
            assignedTopics.map({ partitionCounts[$0] }) != assignedTopics.map({ assignedPartitionCounts[$0] })
        {
            reason = "partition counts changed"
        }
        guard let reason else { return .none }
        switch state {
        case .stable:
            return rejoin(reason: reason, commitFirst: true, now: now)
        case .unjoined, .leaving, .left, .failed:
            return .none
        default:
            pendingRejoinReason = reason
            return .none
        }
    }

    // MARK: Leaving

    /// The consumer closes: commit and revoke what the member owns, then leave the group.
    mutating func close(now: NIODeadline) -> Action {
        guard !isClosing else { return .none }
        isClosing = true
        switch state {
        case .unjoined:
            state = .left
            return .finished
        case .findingCoordinator, .backingOff, .joining, .computingAssignment, .syncing:
            // Eager rebalancing: whoever is between generations owns nothing, except a stable member looking for
            // its coordinator again.
            if !ownedPartitions.isEmpty { return revoke(then: .leave, commitFirst: true) }
            return leave(now: now)
        case .stable:
            return revoke(then: .leave, commitFirst: true)
        case .revoking(.join):
            state = .revoking(then: .leave)
            return .none
        case .revoking, .assigning, .leaving:
            // Carried on when the callback or request in flight completes.
            return .none
        case .left:
            return .finished
        case .failed:
            return .none
        }
    }

    mutating func leaveGroupResponseReceived(errorCode: KafkaErrorCode, now: NIODeadline) -> Action {
        guard case .leaving = state else { return .none }
        return finishLeaving()
    }

    mutating func leaveGroupFailed(_ error: KafkaError, now: NIODeadline) -> Action {
        guard case .leaving = state else { return .none }
        // The coordinator forgets the member after the session timeout anyway.
        return finishLeaving()
    }

    // MARK: Transitions

    private mutating func resume(_ resumption: Resumption, now: NIODeadline) -> Action {
        switch resumption {
        case .join:
            return join(now: now)
        case .assign(let partitions):
            state = .assigning(partitions)
            return .assignPartitions(partitions)
        case .heartbeat:
            if let reason = pendingRejoinReason { return rejoin(reason: reason, commitFirst: true, now: now) }
            state = .stable
            return sendHeartbeat(now: now)
        }
    }

    private mutating func join(now: NIODeadline) -> Action {
        state = .joining
        heartbeatInFlight = false
        // The next assignment reads partition counts afresh: until then there is nothing to compare with.
        assignedPartitionCounts = nil
        let reason = pendingRejoinReason
        pendingRejoinReason = nil
        let metadata: ByteBuffer
        do {
            metadata = try ConsumerProtocol.subscriptionMetadata(topics: subscribedTopics, generationID: generationID)
        } catch {
            return fail(error)
        }
        return .sendJoinGroup(
            KafkaJoinGroupRequest(
                groupId: configuration.groupID,
                sessionTimeoutMs: Self.milliseconds(configuration.sessionTimeout),
                rebalanceTimeoutMs: Self.milliseconds(configuration.rebalanceTimeout),
                memberId: memberID,
                groupInstanceId: configuration.groupInstanceID,
                protocolType: ConsumerProtocol.protocolType,
                protocols: configuration.assignors.map { .init(name: $0.name, metadata: metadata) },
                reason: reason
            )
        )
    }

    private mutating func assignAsLeader(_ response: KafkaJoinGroupResponse, now: NIODeadline) -> Action {
        guard let name = response.protocolName, let assignor = configuration.assignors.first(where: { $0.name == name })
        else {
            return fail(
                KafkaError.broker(
                    .inconsistentGroupProtocol,
                    "group '\(configuration.groupID)' chose assignor '\(response.protocolName ?? "")', not one of "
                        + "\(configuration.assignors.map(\.name))"
                )
            )
        }
        var members: [KafkaGroupMemberSubscription] = []
        for member in response.members {
            do {
                members.append(
                    try ConsumerProtocol.decodeSubscription(
                        member.metadata,
                        memberID: member.memberId,
                        groupInstanceID: member.groupInstanceId
                    )
                )
            } catch {
                return fail(error)
            }
        }
        assignedTopics = Set(members.flatMap(\.topics)).sorted()
        state = .computingAssignment
        return .computeAssignment(AssignmentRequest(assignor: assignor, members: members, topics: assignedTopics))
    }

    private func syncGroup(assignments: [KafkaSyncGroupRequest.SyncGroupRequestAssignment]) -> Action {
        .sendSyncGroup(
            KafkaSyncGroupRequest(
                groupId: configuration.groupID,
                generationId: generationID,
                memberId: memberID,
                groupInstanceId: configuration.groupInstanceID,
                protocolType: ConsumerProtocol.protocolType,
                protocolName: protocolName,
                assignments: assignments
            )
        )
    }

    private mutating func sendHeartbeat(now: NIODeadline) -> Action {
        heartbeatInFlight = true
        nextHeartbeatAt = now + configuration.heartbeatInterval
        return .sendHeartbeat(
            KafkaHeartbeatRequest(
                groupId: configuration.groupID,
                generationId: generationID,
                memberId: memberID,
                groupInstanceId: configuration.groupInstanceID
            )
        )
    }

    /// Eager rebalancing: give everything up, then join.
    private mutating func rejoin(reason: String, commitFirst: Bool, now: NIODeadline) -> Action {
        pendingRejoinReason = reason
        if ownedPartitions.isEmpty { return join(now: now) }
        return revoke(then: .join, commitFirst: commitFirst)
    }

    private mutating func revoke(then next: AfterRevocation, commitFirst: Bool) -> Action {
        let partitions = ownedPartitions
        ownedPartitions = []
        heartbeatInFlight = false
        state = .revoking(then: next)
        return .revokePartitions(partitions, commitFirst: commitFirst && configuration.commitsBeforeRevoking)
    }

    private mutating func leave(now: NIODeadline) -> Action {
        // Static members do not leave: a restarted instance takes its place back within the session timeout
        // without a rebalance (KIP-345, as Java's consumer).
        guard !memberID.isEmpty, configuration.groupInstanceID == nil else {
            state = .left
            return .finished
        }
        state = .leaving
        return .sendLeaveGroup(
            KafkaLeaveGroupRequest(
                groupId: configuration.groupID,
                memberId: memberID,
                members: [.init(memberId: memberID, groupInstanceId: nil, reason: "the consumer is closing")]
            )
        )
    }

    private mutating func finishLeaving() -> Action {
        resetMembership()
        state = .left
        return .finished
    }

    private mutating func fail(_ error: KafkaError) -> Action {
        if !ownedPartitions.isEmpty { return revoke(then: .fail(error), commitFirst: false) }
        state = .failed(error)
        return .fail(error)
    }

    private mutating func backoff(_ retry: Retry, now: NIODeadline) -> Action {
        let until = now + retryDelay()
        state = .backingOff(retry, until: until)
        return .backoff(retryAt: until)
    }

    private mutating func coordinatorLost(then resumption: Resumption, now: NIODeadline) -> Action {
        backoff(.findCoordinator(then: resumption), now: now)
    }

    /// A request got no answer: a lost connection or a timeout means the coordinator must be found again.
    private mutating func requestFailed(_ error: KafkaError, resumption: Resumption, now: NIODeadline) -> Action {
        if case .broker(let code) = error.code {
            return handleOtherError(code, request: "request", resumption: resumption, now: now)
        }
        guard error.isRetriable else { return fail(error) }
        return coordinatorLost(then: resumption, now: now)
    }

    private mutating func handleOtherError(
        _ code: KafkaErrorCode,
        request: String,
        resumption: Resumption,
        now: NIODeadline
    ) -> Action {
        switch code {
        case .notCoordinator, .coordinatorNotAvailable, .coordinatorLoadInProgress:
            return coordinatorLost(then: resumption, now: now)
        default:
            guard code.isRetriable, !Self.isFatal(code) else {
                return fail(KafkaError.broker(code, "\(request) for group '\(configuration.groupID)'"))
            }
            return backoff(.resume(resumption), now: now)
        }
    }

    private mutating func resetMembership() {
        memberID = ""
        generationID = -1
        leaderID = nil
        protocolName = nil
    }

    /// The backoff for the next retry: doubled for each failure in a row, capped.
    private mutating func retryDelay() -> TimeAmount {
        let base = configuration.retryBackoff.nanoseconds
        let delay = min(configuration.retryBackoffMax.nanoseconds, base << min(consecutiveFailures, 20))
        consecutiveFailures += 1
        return .nanoseconds(delay)
    }

    private static func isFatal(_ code: KafkaErrorCode) -> Bool {
        switch code {
        case .groupAuthorizationFailed, .invalidGroupId, .inconsistentGroupProtocol, .invalidSessionTimeout,
            .groupMaxSizeReached, .unsupportedVersion, .topicAuthorizationFailed:
            return true
        default:
            return false
        }
    }

    private static func milliseconds(_ amount: TimeAmount) -> Int32 {
        Int32(clamping: amount.nanoseconds / 1_000_000)
    }
}
