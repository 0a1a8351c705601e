import KafkaWire
import NIOCore
import Testing

@testable import KafkaClient

/// The group-membership state machine driven event by event, with a manual clock: no sockets, no timers.
@Suite struct ConsumerGroupStateMachineTests {
    typealias Machine = ConsumerGroupStateMachine
    typealias Action = ConsumerGroupStateMachine.Action

    /// A manual clock: time moves only when a test says so.
    struct ManualClock {
        var now = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
        mutating func advance(by amount: TimeAmount) { now = now + amount }
    }

    static func configuration(instance: String? = nil, autoCommit: Bool = true) -> KafkaConsumerGroupConfiguration {
        var configuration = KafkaConsumerGroupConfiguration(groupID: "g")
        configuration.groupInstanceID = instance
        configuration.autoCommitInterval = autoCommit ? .seconds(5) : nil
        return configuration
    }

    static func tp(_ topic: String, _ partition: Int32) -> KafkaTopicPartition {
        KafkaTopicPartition(topic: topic, partition: partition)
    }

    static func subscription(_ topics: [String]) -> ByteBuffer {
        try! ConsumerProtocol.subscriptionMetadata(topics: topics)
    }

    static func assignment(_ partitions: [String: [Int32]]) -> ByteBuffer {
        try! ConsumerProtocol.assignmentMetadata(partitions)
    }

    static func joinResponse(
        error: KafkaErrorCode = .none,
        generation: Int32 = 1,
        protocolName: String? = "range",
        leader: String = "m1",
        memberID: String = "m1",
        members: [(String, [String])] = []
    ) -> KafkaJoinGroupResponse {
        KafkaJoinGroupResponse(
            errorCode: error.rawValue,
            generationId: generation,
            protocolType: "consumer",
            protocolName: protocolName,
            leader: leader,
            memberId: memberID,
            members: members.map { .init(memberId: $0.0, metadata: subscription($0.1)) }
        )
    }

    static func syncResponse(
        error: KafkaErrorCode = .none, _ partitions: [String: [Int32]] = [:]
    )
        -> KafkaSyncGroupResponse
    {
        KafkaSyncGroupResponse(errorCode: error.rawValue, assignment: assignment(partitions))
    }

    /// A follower that has joined (generation 1, member "m2", leader "m1") and owns t-0 and t-1.
    static func stableFollower(
        _ clock: inout ManualClock,
        configuration: KafkaConsumerGroupConfiguration = configuration()
    ) -> Machine {
        var machine = Machine(configuration: configuration)
        _ = machine.start(topics: ["t"], now: clock.now)
        _ = machine.coordinatorFound(now: clock.now)
        _ = machine.joinGroupResponseReceived(joinResponse(leader: "m1", memberID: "m2"), now: clock.now)
        _ = machine.syncGroupResponseReceived(syncResponse(["t": [0, 1]]), now: clock.now)
        _ = machine.partitionsAssigned(now: clock.now)
        #expect(machine.state == .stable)
        return machine
    }

    static func joinRequest(_ action: Action) -> KafkaJoinGroupRequest? {
        if case .sendJoinGroup(let request) = action { return request }
        return nil
    }

    // MARK: Joining

    @Test func joinsAsLeaderAfterMemberIDRequired() throws {
        let clock = ManualClock()
        var machine = Machine(configuration: Self.configuration())
        #expect(machine.start(topics: ["t", "u", "t"], now: clock.now) == .findCoordinator)
        #expect(machine.state == .findingCoordinator(then: .join))

        // First join: no member id yet.
        let first = try #require(Self.joinRequest(machine.coordinatorFound(now: clock.now)))
        #expect(first.groupId == "g")
        #expect(first.memberId == "")
        #expect(first.protocolType == "consumer")
        #expect(first.sessionTimeoutMs == 45_000)
        #expect(first.rebalanceTimeoutMs == 60_000)
        #expect(first.protocols.map(\.name) == ["range", "roundrobin"])
        let subscription = try ConsumerProtocol.decodeSubscription(
            first.protocols[0].metadata,
            memberID: "",
            groupInstanceID: nil
        )
        #expect(subscription.topics == ["t", "u"])

        // JoinGroup v4+: the coordinator hands out the member id and wants the member to join again with it.
        let second = try #require(
            Self.joinRequest(
                machine.joinGroupResponseReceived(
                    Self.joinResponse(error: .memberIdRequired, generation: -1, leader: "", memberID: "m1"),
                    now: clock.now
                )
            )
        )
        #expect(second.memberId == "m1")
        #expect(machine.state == .joining)

        // Elected leader: compute the assignment over every member's subscription.
        let compute = machine.joinGroupResponseReceived(
            Self.joinResponse(members: [("m1", ["t", "u"]), ("m2", ["t"])]),
            now: clock.now
        )
        guard case .computeAssignment(let request) = compute else {
            Issue.record("expected computeAssignment, got \(compute)")
            return
        }
        #expect(request.assignor == .range)
        #expect(request.topics == ["t", "u"])
        #expect(request.members.map(\.memberId) == ["m1", "m2"])
        #expect(request.members.map(\.topics) == [["t", "u"], ["t"]])
        #expect(machine.isLeader)
        #expect(machine.generationID == 1)

        let counts: [String: Int32] = ["t": 4, "u": 1]
        let assignment = request.assignor.assign(members: request.members, partitionCounts: counts)
        let sync = machine.assignmentComputed(assignment, partitionCounts: counts, now: clock.now)
        guard case .sendSyncGroup(let syncRequest) = sync else {
            Issue.record("expected sendSyncGroup, got \(sync)")
            return
        }
        #expect(syncRequest.generationId == 1)
        #expect(syncRequest.memberId == "m1")
        #expect(syncRequest.protocolType == "consumer")
        #expect(syncRequest.protocolName == "range")
        #expect(syncRequest.assignments.map(\.memberId) == ["m1", "m2"])
        let decoded = try syncRequest.assignments.map { try ConsumerProtocol.decodeAssignment($0.assignment) }
        #expect(decoded[0] == [Self.tp("t", 0), Self.tp("t", 1), Self.tp("u", 0)])
        #expect(decoded[1] == [Self.tp("t", 2), Self.tp("t", 3)])

        let assign = machine.syncGroupResponseReceived(Self.syncResponse(["t": [0, 1], "u": [0]]), now: clock.now)
        #expect(assign == .assignPartitions([Self.tp("t", 0), Self.tp("t", 1), Self.tp("u", 0)]))
        #expect(machine.ownedPartitions.isEmpty, "owned only once the member took them")
        #expect(machine.commitGeneration?.generationID == 1)

        #expect(machine.partitionsAssigned(now: clock.now) == .scheduleHeartbeat(at: clock.now + .seconds(3)))
        #expect(machine.state == .stable)
        #expect(machine.ownedPartitions == [Self.tp("t", 0), Self.tp("t", 1), Self.tp("u", 0)])
        #expect(machine.topicsToWatch == ["t", "u"])
    }

    @Test func joinsAsFollowerAndHeartbeatsEveryInterval() {
        var clock = ManualClock()
        var machine = Machine(configuration: Self.configuration())
        _ = machine.start(topics: ["t"], now: clock.now)
        _ = machine.coordinatorFound(now: clock.now)
        let sync = machine.joinGroupResponseReceived(Self.joinResponse(leader: "m1", memberID: "m2"), now: clock.now)
        #expect(
            sync
                == .sendSyncGroup(
                    KafkaSyncGroupRequest(
                        groupId: "g",
                        generationId: 1,
                        memberId: "m2",
                        protocolType: "consumer",
                        protocolName: "range",
                        assignments: []
                    )
                )
        )
        #expect(!machine.isLeader)
        #expect(machine.commitGeneration == nil, "no commits between JoinGroup and SyncGroup")
        #expect(
            machine.syncGroupResponseReceived(Self.syncResponse(["t": [1, 0]]), now: clock.now)
                == .assignPartitions([Self.tp("t", 0), Self.tp("t", 1)])
        )
        #expect(machine.partitionsAssigned(now: clock.now) == .scheduleHeartbeat(at: clock.now + .seconds(3)))

        // A timer that fires early (left over from an earlier schedule) only re-arms.
        clock.advance(by: .seconds(1))
        #expect(machine.heartbeatTimerFired(now: clock.now) == .scheduleHeartbeat(at: clock.now + .seconds(2)))
        clock.advance(by: .seconds(2))
        let sentAt = clock.now
        #expect(
            machine.heartbeatTimerFired(now: clock.now)
                == .sendHeartbeat(KafkaHeartbeatRequest(groupId: "g", generationId: 1, memberId: "m2"))
        )
        // One heartbeat at a time.
        #expect(machine.heartbeatTimerFired(now: clock.now) == .none)
        clock.advance(by: .milliseconds(20))
        #expect(
            machine.heartbeatResponseReceived(errorCode: .none, now: clock.now)
                == .scheduleHeartbeat(at: sentAt + .seconds(3))
        )
    }

    @Test func anEmptyAssignmentIsStillHandedToTheMember() {
        var clock = ManualClock()
        var machine = Machine(configuration: Self.configuration())
        _ = machine.start(topics: ["t"], now: clock.now)
        _ = machine.coordinatorFound(now: clock.now)
        _ = machine.joinGroupResponseReceived(Self.joinResponse(leader: "m1", memberID: "m3"), now: clock.now)
        let noBytes = KafkaSyncGroupResponse(errorCode: 0, assignment: ByteBuffer())
        #expect(machine.syncGroupResponseReceived(noBytes, now: clock.now) == .assignPartitions([]))
        clock.advance(by: .seconds(1))
        #expect(machine.partitionsAssigned(now: clock.now) == .scheduleHeartbeat(at: clock.now + .seconds(3)))
    }

    @Test func aProtocolThisMemberDoesNotKnowFails() {
        let clock = ManualClock()
        var machine = Machine(configuration: Self.configuration())
        _ = machine.start(topics: ["t"], now: clock.now)
        _ = machine.coordinatorFound(now: clock.now)
        let action = machine.joinGroupResponseReceived(
            Self.joinResponse(protocolName: "cooperative-sticky", members: [("m1", ["t"])]),
            now: clock.now
        )
        guard case .fail(let error) = action else {
            Issue.record("expected fail, got \(action)")
            return
        }
        #expect(error.code == .broker(.inconsistentGroupProtocol))
    }

    // MARK: Rebalances

    @Test func rebalanceInProgressOnHeartbeatRevokesThenRejoins() throws {
        var clock = ManualClock()
        var machine = Self.stableFollower(&clock)
        clock.advance(by: .seconds(3))
        _ = machine.heartbeatTimerFired(now: clock.now)
        #expect(
            machine.heartbeatResponseReceived(errorCode: .rebalanceInProgress, now: clock.now)
                == .revokePartitions([Self.tp("t", 0), Self.tp("t", 1)], commitFirst: true)
        )
        #expect(machine.ownedPartitions.isEmpty)
        // The last commit before the revocation still uses the generation that owned the partitions.
        #expect(machine.commitGeneration?.generationID == 1)
        #expect(machine.commitGeneration?.memberID == "m2")

        let rejoin = try #require(Self.joinRequest(machine.partitionsRevoked(now: clock.now)))
        #expect(rejoin.memberId == "m2", "a rebalance keeps the member id")
        #expect(rejoin.reason == "the group is rebalancing")
        // The subscription says which generation the member comes from (as Java's v2+ does).
        var metadata = rejoin.protocols[0].metadata
        #expect(metadata.readInteger(as: Int16.self) == 3)
        #expect(try KafkaConsumerProtocolSubscription(from: &metadata, version: 3).generationId == 1)

        // The next generation.
        _ = machine.joinGroupResponseReceived(
            Self.joinResponse(generation: 2, leader: "m1", memberID: "m2"),
            now: clock.now
        )
        #expect(machine.generationID == 2)
        #expect(
            machine.syncGroupResponseReceived(Self.syncResponse(["t": [1]]), now: clock.now)
                == .assignPartitions([Self.tp("t", 1)])
        )
    }

    @Test func withoutAutoCommitPartitionsAreRevokedWithoutCommitting() {
        var clock = ManualClock()
        var machine = Self.stableFollower(&clock, configuration: Self.configuration(autoCommit: false))
        clock.advance(by: .seconds(3))
        _ = machine.heartbeatTimerFired(now: clock.now)
        #expect(
            machine.heartbeatResponseReceived(errorCode: .rebalanceInProgress, now: clock.now)
                == .revokePartitions([Self.tp("t", 0), Self.tp("t", 1)], commitFirst: false)
        )
    }

    @Test func unknownMemberResetsTheMemberAndRejoinsWithoutCommitting() throws {
        var clock = ManualClock()
        var machine = Self.stableFollower(&clock)
        clock.advance(by: .seconds(3))
        _ = machine.heartbeatTimerFired(now: clock.now)
        #expect(
            machine.heartbeatResponseReceived(errorCode: .unknownMemberId, now: clock.now)
                == .revokePartitions([Self.tp("t", 0), Self.tp("t", 1)], commitFirst: false)
        )
        #expect(machine.memberID == "")
        #expect(machine.generationID == -1)
        #expect(machine.commitGeneration == nil)
        let rejoin = try #require(Self.joinRequest(machine.partitionsRevoked(now: clock.now)))
        #expect(rejoin.memberId == "")
    }

    @Test func illegalGenerationKeepsTheMemberID() throws {
        var clock = ManualClock()
        var machine = Self.stableFollower(&clock)
        clock.advance(by: .seconds(3))
        _ = machine.heartbeatTimerFired(now: clock.now)
        #expect(
            machine.heartbeatResponseReceived(errorCode: .illegalGeneration, now: clock.now)
                == .revokePartitions([Self.tp("t", 0), Self.tp("t", 1)], commitFirst: false)
        )
        #expect(machine.generationID == -1)
        let rejoin = try #require(Self.joinRequest(machine.partitionsRevoked(now: clock.now)))
        #expect(rejoin.memberId == "m2")
    }

    @Test func joinAndSyncErrorsRejoinAtOnce() throws {
        let clock = ManualClock()
        var machine = Machine(configuration: Self.configuration())
        _ = machine.start(topics: ["t"], now: clock.now)
        _ = machine.coordinatorFound(now: clock.now)
        _ = machine.joinGroupResponseReceived(Self.joinResponse(leader: "m1", memberID: "m2"), now: clock.now)
        // The group moved to another generation between JoinGroup and SyncGroup.
        let afterRebalance = try #require(
            Self.joinRequest(
                machine.syncGroupResponseReceived(Self.syncResponse(error: .rebalanceInProgress), now: clock.now)
            )
        )
        #expect(afterRebalance.memberId == "m2")
        let afterUnknown = try #require(
            Self.joinRequest(
                machine.joinGroupResponseReceived(Self.joinResponse(error: .unknownMemberId), now: clock.now)
            )
        )
        #expect(afterUnknown.memberId == "")
    }

    @Test func commitErrorsOfTheCurrentGenerationMakeTheMemberRejoin() {
        var clock = ManualClock()
        var machine = Self.stableFollower(&clock)
        // A commit of an older generation says nothing about this one.
        #expect(
            machine.commitFailed(KafkaError.broker(.illegalGeneration, "commit"), generationID: 0, now: clock.now)
                == .none
        )
        // Unrelated commit errors leave the membership alone.
        #expect(
            machine.commitFailed(KafkaError.broker(.offsetMetadataTooLarge, "commit"), generationID: 1, now: clock.now)
                == .none
        )
        #expect(
            machine.commitFailed(KafkaError.broker(.unknownMemberId, "commit"), generationID: 1, now: clock.now)
                == .revokePartitions([Self.tp("t", 0), Self.tp("t", 1)], commitFirst: false)
        )
        #expect(machine.memberID == "")
    }

    @Test func aChangedSubscriptionMakesTheMemberRejoinWithItsNewTopics() throws {
        var clock = ManualClock()
        var machine = Self.stableFollower(&clock)
        // Nothing changed.
        #expect(machine.subscriptionChanged(topics: ["t"], partitionCounts: ["t": 2], now: clock.now) == .none)
        // A follower does not care about partition counts: the leader does.
        #expect(machine.subscriptionChanged(topics: ["t"], partitionCounts: ["t": 8], now: clock.now) == .none)

        #expect(
            machine.subscriptionChanged(topics: ["t", "t2"], partitionCounts: [:], now: clock.now)
                == .revokePartitions([Self.tp("t", 0), Self.tp("t", 1)], commitFirst: true)
        )
        let rejoin = try #require(Self.joinRequest(machine.partitionsRevoked(now: clock.now)))
        let topics = try ConsumerProtocol.decodeSubscription(
            rejoin.protocols[0].metadata,
            memberID: "",
            groupInstanceID: nil
        )
        .topics
        #expect(topics == ["t", "t2"])
        #expect(rejoin.reason == "the subscription changed")
    }

    @Test func theLeaderRejoinsWhenAPartitionCountChanges() throws {
        let clock = ManualClock()
        var machine = Machine(configuration: Self.configuration())
        _ = machine.start(topics: ["t"], now: clock.now)
        _ = machine.coordinatorFound(now: clock.now)
        _ = machine.joinGroupResponseReceived(
            Self.joinResponse(members: [("m1", ["t"]), ("m2", ["t", "other"])]),
            now: clock.now
        )
        // The leader watches the topics of every member, not only its own.
        #expect(machine.topicsToWatch == ["other", "t"])
        let counts: [String: Int32] = ["t": 2]
        _ = machine.assignmentComputed(
            ["m1": ["t": [0]], "m2": ["t": [1]]],
            partitionCounts: counts,
            now: clock.now
        )
        _ = machine.syncGroupResponseReceived(Self.syncResponse(["t": [0]]), now: clock.now)
        _ = machine.partitionsAssigned(now: clock.now)
        #expect(machine.subscriptionChanged(topics: ["t"], partitionCounts: ["t": 2], now: clock.now) == .none)
        // Another member's topic appeared.
        #expect(
            machine.subscriptionChanged(topics: ["t"], partitionCounts: ["t": 2, "other": 3], now: clock.now)
                == .revokePartitions([Self.tp("t", 0)], commitFirst: true)
        )
        let rejoin = try #require(Self.joinRequest(machine.partitionsRevoked(now: clock.now)))
        #expect(rejoin.reason == "partition counts changed")
    }

    @Test func partitionCountsSeenWhileTheLeaderAssignsAreNotAChange() {
        var clock = ManualClock()
        var machine = Machine(configuration: Self.configuration())
        _ = machine.start(topics: ["t"], now: clock.now)
        _ = machine.coordinatorFound(now: clock.now)
        _ = machine.joinGroupResponseReceived(Self.joinResponse(members: [("m1", ["t"])]), now: clock.now)
        _ = machine.assignmentComputed(["m1": [:]], partitionCounts: [:], now: clock.now)
        _ = machine.syncGroupResponseReceived(Self.syncResponse([:]), now: clock.now)
        _ = machine.partitionsAssigned(now: clock.now)
        // The topic appeared: the leader rejoins.
        let rejoin = machine.subscriptionChanged(topics: ["t"], partitionCounts: ["t": 2], now: clock.now)
        #expect(Self.joinRequest(rejoin)?.reason == "partition counts changed")
        // Refreshes while the JoinGroup is held see the same change: it is already being acted on.
        #expect(machine.subscriptionChanged(topics: ["t"], partitionCounts: ["t": 2], now: clock.now) == .none)
        clock.advance(by: .seconds(5))
        _ = machine.joinGroupResponseReceived(
            Self.joinResponse(generation: 2, members: [("m1", ["t"])]), now: clock.now)
        // A refresh before the new assignment is computed compares with nothing: no second rejoin.
        #expect(machine.subscriptionChanged(topics: ["t"], partitionCounts: ["t": 2], now: clock.now) == .none)
        _ = machine.assignmentComputed(["m1": ["t": [0, 1]]], partitionCounts: ["t": 2], now: clock.now)
        #expect(
            machine.syncGroupResponseReceived(Self.syncResponse(["t": [0, 1]]), now: clock.now)
                == .assignPartitions([Self.tp("t", 0), Self.tp("t", 1)])
        )
    }

    @Test func aSubscriptionChangeDuringAJoinIsCarriedOutAfterIt() throws {
        let clock = ManualClock()
        var machine = Machine(configuration: Self.configuration())
        _ = machine.start(topics: ["t"], now: clock.now)
        _ = machine.coordinatorFound(now: clock.now)
        #expect(machine.subscriptionChanged(topics: ["t", "u"], partitionCounts: [:], now: clock.now) == .none)
        _ = machine.joinGroupResponseReceived(Self.joinResponse(leader: "m1", memberID: "m2"), now: clock.now)
        // The assignment answers the old subscription: join again straight away.
        let rejoin = try #require(
            Self.joinRequest(machine.syncGroupResponseReceived(Self.syncResponse(["t": [0]]), now: clock.now))
        )
        #expect(rejoin.memberId == "m2")
        #expect(rejoin.reason == "the subscription changed")
    }

    // MARK: Coordinator trouble

    @Test func aMovedCoordinatorIsLookedUpAgainAndTheMemberCarriesOn() {
        var clock = ManualClock()
        var machine = Self.stableFollower(&clock)
        clock.advance(by: .seconds(3))
        _ = machine.heartbeatTimerFired(now: clock.now)
        #expect(
            machine.heartbeatResponseReceived(errorCode: .notCoordinator, now: clock.now)
                == .backoff(retryAt: clock.now + .milliseconds(100))
        )
        // Still in the generation, still owning its partitions.
        #expect(machine.ownedPartitions.count == 2)
        #expect(machine.commitGeneration?.generationID == 1)
        // A timer that fires early re-arms.
        #expect(machine.retryTimerFired(now: clock.now) == .backoff(retryAt: clock.now + .milliseconds(100)))
        clock.advance(by: .milliseconds(100))
        #expect(machine.retryTimerFired(now: clock.now) == .findCoordinator)
        // The lookup fails too: the backoff doubles.
        #expect(
            machine.coordinatorLookupFailed(KafkaError.broker(.coordinatorNotAvailable, "lookup"), now: clock.now)
                == .backoff(retryAt: clock.now + .milliseconds(200))
        )
        clock.advance(by: .milliseconds(200))
        #expect(machine.retryTimerFired(now: clock.now) == .findCoordinator)
        #expect(
            machine.coordinatorFound(now: clock.now)
                == .sendHeartbeat(KafkaHeartbeatRequest(groupId: "g", generationId: 1, memberId: "m2"))
        )
        #expect(machine.state == .stable)
        #expect(
            machine.heartbeatResponseReceived(errorCode: .none, now: clock.now)
                == .scheduleHeartbeat(at: clock.now + .seconds(3)))
    }

    @Test func aLostConnectionDuringJoinFindsTheCoordinatorAndJoinsAgain() throws {
        var clock = ManualClock()
        var machine = Machine(configuration: Self.configuration())
        _ = machine.start(topics: ["t"], now: clock.now)
        _ = machine.coordinatorFound(now: clock.now)
        #expect(
            machine.joinGroupFailed(KafkaError(.connectionFailed, "closed"), now: clock.now)
                == .backoff(retryAt: clock.now + .milliseconds(100))
        )
        clock.advance(by: .milliseconds(100))
        #expect(machine.retryTimerFired(now: clock.now) == .findCoordinator)
        let join = try #require(Self.joinRequest(machine.coordinatorFound(now: clock.now)))
        #expect(join.memberId == "")
        // COORDINATOR_LOAD_IN_PROGRESS: same path.
        #expect(
            machine.joinGroupResponseReceived(Self.joinResponse(error: .coordinatorLoadInProgress), now: clock.now)
                == .backoff(retryAt: clock.now + .milliseconds(200))
        )
    }

    @Test func offsetFetchOnAMovedCoordinatorIsRetriedThere() {
        var clock = ManualClock()
        var machine = Machine(configuration: Self.configuration())
        _ = machine.start(topics: ["t"], now: clock.now)
        _ = machine.coordinatorFound(now: clock.now)
        _ = machine.joinGroupResponseReceived(Self.joinResponse(leader: "m1", memberID: "m2"), now: clock.now)
        _ = machine.syncGroupResponseReceived(Self.syncResponse(["t": [0]]), now: clock.now)
        #expect(
            machine.offsetFetchFailed(KafkaError.broker(.notCoordinator, "fetch"), now: clock.now)
                == .backoff(retryAt: clock.now + .milliseconds(100))
        )
        clock.advance(by: .milliseconds(100))
        #expect(machine.retryTimerFired(now: clock.now) == .findCoordinator)
        #expect(machine.coordinatorFound(now: clock.now) == .assignPartitions([Self.tp("t", 0)]))
    }

    @Test func noHeartbeatAnswerForASessionMeansTheCoordinatorIsLookedUpAgain() {
        var clock = ManualClock()
        var machine = Self.stableFollower(&clock)
        // Heartbeats keep failing with a retriable error that is no coordinator error.
        for _ in 0..<20 {
            clock.advance(by: .seconds(3))
            let action = machine.heartbeatTimerFired(now: clock.now)
            if case .backoff = action {
                #expect(
                    machine.state == .backingOff(.findCoordinator(then: .heartbeat), until: clock.now + .seconds(1)))
                return
            }
            #expect(action == .sendHeartbeat(KafkaHeartbeatRequest(groupId: "g", generationId: 1, memberId: "m2")))
            _ = machine.heartbeatResponseReceived(errorCode: .requestTimedOut, now: clock.now)
        }
        Issue.record("the session timeout was never noticed")
    }

    @Test func fatalErrorsRevokeAndFail() {
        var clock = ManualClock()
        var machine = Self.stableFollower(&clock)
        clock.advance(by: .seconds(3))
        _ = machine.heartbeatTimerFired(now: clock.now)
        #expect(
            machine.heartbeatResponseReceived(errorCode: .groupAuthorizationFailed, now: clock.now)
                == .revokePartitions([Self.tp("t", 0), Self.tp("t", 1)], commitFirst: false)
        )
        let action = machine.partitionsRevoked(now: clock.now)
        guard case .fail(let error) = action else {
            Issue.record("expected fail, got \(action)")
            return
        }
        #expect(error.name == "GROUP_AUTHORIZATION_FAILED")
        #expect(machine.heartbeatTimerFired(now: clock.now) == .none)
    }

    // MARK: Closing

    @Test func closeRevokesAndLeaves() {
        var clock = ManualClock()
        var machine = Self.stableFollower(&clock)
        #expect(
            machine.close(now: clock.now) == .revokePartitions([Self.tp("t", 0), Self.tp("t", 1)], commitFirst: true)
        )
        #expect(machine.close(now: clock.now) == .none)
        // A heartbeat timer firing meanwhile does nothing.
        clock.advance(by: .seconds(3))
        #expect(machine.heartbeatTimerFired(now: clock.now) == .none)
        #expect(
            machine.partitionsRevoked(now: clock.now)
                == .sendLeaveGroup(
                    KafkaLeaveGroupRequest(
                        groupId: "g",
                        memberId: "m2",
                        members: [.init(memberId: "m2", reason: "the consumer is closing")]
                    )
                )
        )
        #expect(machine.leaveGroupResponseReceived(errorCode: .none, now: clock.now) == .finished)
        #expect(machine.state == .left)
        #expect(machine.memberID == "")
    }

    @Test func closeDuringARevocationLeavesInsteadOfRejoining() {
        var clock = ManualClock()
        var machine = Self.stableFollower(&clock)
        clock.advance(by: .seconds(3))
        _ = machine.heartbeatTimerFired(now: clock.now)
        _ = machine.heartbeatResponseReceived(errorCode: .rebalanceInProgress, now: clock.now)
        #expect(machine.close(now: clock.now) == .none)
        guard case .sendLeaveGroup = machine.partitionsRevoked(now: clock.now) else {
            Issue.record("expected LeaveGroup")
            return
        }
    }

    @Test func closeDuringAJoinLeavesAndIgnoresTheLateAnswer() {
        let clock = ManualClock()
        var machine = Machine(configuration: Self.configuration())
        _ = machine.start(topics: ["t"], now: clock.now)
        _ = machine.coordinatorFound(now: clock.now)
        _ = machine.joinGroupResponseReceived(
            Self.joinResponse(error: .memberIdRequired, leader: "", memberID: "m2"),
            now: clock.now
        )
        guard case .sendLeaveGroup(let leave) = machine.close(now: clock.now) else {
            Issue.record("expected LeaveGroup")
            return
        }
        #expect(leave.memberId == "m2")
        #expect(
            machine.joinGroupResponseReceived(Self.joinResponse(leader: "m1", memberID: "m2"), now: clock.now) == .none
        )
        #expect(machine.leaveGroupFailed(KafkaError(.connectionFailed, "closed"), now: clock.now) == .finished)
    }

    @Test func closeBeforeJoiningFinishesAtOnce() {
        let clock = ManualClock()
        var unstarted = Machine(configuration: Self.configuration())
        #expect(unstarted.close(now: clock.now) == .finished)

        var looking = Machine(configuration: Self.configuration())
        _ = looking.start(topics: ["t"], now: clock.now)
        #expect(looking.close(now: clock.now) == .finished)
        #expect(looking.coordinatorFound(now: clock.now) == .none)
    }

    @Test func aStaticMemberDoesNotLeaveTheGroup() throws {
        var clock = ManualClock()
        var machine = Self.stableFollower(&clock, configuration: Self.configuration(instance: "instance-1"))
        #expect(
            machine.close(now: clock.now) == .revokePartitions([Self.tp("t", 0), Self.tp("t", 1)], commitFirst: true))
        #expect(machine.partitionsRevoked(now: clock.now) == .finished)
    }

    @Test func aStaticMemberSendsItsInstanceID() throws {
        let clock = ManualClock()
        var machine = Machine(configuration: Self.configuration(instance: "instance-1"))
        _ = machine.start(topics: ["t"], now: clock.now)
        let join = try #require(Self.joinRequest(machine.coordinatorFound(now: clock.now)))
        #expect(join.groupInstanceId == "instance-1")
    }
}
