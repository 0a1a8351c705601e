import Foundation
import KafkaTestSupport
import KafkaWire
import Logging
import NIOCore
import Synchronization
import Testing

@testable import KafkaClient

/// Consumer-group membership against a real tansu broker: joins, eager rebalances as members come and go,
/// commits, and both assignors. Members are recording fakes of `ConsumerGroupMember`.
@Suite("consumer group coordinator on tansu", .timeLimit(.minutes(3)))
struct ConsumerGroupCoordinatorBrokerTests {
    static func groupConfiguration(
        _ groupID: String,
        assignors: [KafkaPartitionAssignor] = [.range, .roundRobin],
        autoCommit: TimeAmount? = nil
    ) -> KafkaConsumerGroupConfiguration {
        var configuration = KafkaConsumerGroupConfiguration(groupID: groupID)
        // Short, so that rebalances (noticed on the next heartbeat) take well under a second.
        configuration.heartbeatInterval = .milliseconds(300)
        configuration.sessionTimeout = .seconds(10)
        configuration.rebalanceTimeout = .seconds(10)
        configuration.assignors = assignors
        configuration.autoCommitInterval = autoCommit
        return configuration
    }

    static func tp(_ topic: String, _ partition: Int32) -> KafkaTopicPartition {
        KafkaTopicPartition(topic: topic, partition: partition)
    }

    static func partitions(_ topic: String, _ indexes: ClosedRange<Int32>) -> Set<KafkaTopicPartition> {
        Set(indexes.map { tp(topic, $0) })
    }

    @Test("two members split a 4-partition topic 2+2 (range), and one gets all 4 back when the other leaves")
    func rangeRebalancesAsMembersComeAndGo() async throws {
        let oracle = LibrdkafkaOracle()
        try await withTansuBroker { broker in
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "orders", partitions: 4)
            try await withGroupHarness(broker) { harness in
                let configuration = Self.groupConfiguration("range-group", assignors: [.range])
                let first = RecordingMember()
                let firstCoordinator = try harness.start(configuration, .topics(["orders"]), first)
                try await eventually("the first member owns all 4 partitions") {
                    first.owned == Self.partitions("orders", 0...3)
                }
                #expect(
                    first.events == [
                        .assigned(Dictionary(uniqueKeysWithValues: (0...3).map { (Self.tp("orders", $0), nil) }))
                    ])
                #expect(firstCoordinator.isLeader)
                let firstGeneration = firstCoordinator.generation

                let second = RecordingMember()
                let secondCoordinator = try harness.start(configuration, .topics(["orders"]), second)
                try await eventually("both members own 2 partitions") {
                    first.owned.count == 2 && second.owned.count == 2
                }
                #expect(first.owned.union(second.owned) == Self.partitions("orders", 0...3))
                // Range gives each member a contiguous range; the lower one to the member whose id sorts first.
                let ranges = [Self.partitions("orders", 0...1), Self.partitions("orders", 2...3)]
                let firstIsLower = firstCoordinator.memberID < secondCoordinator.memberID
                #expect(first.owned == ranges[firstIsLower ? 0 : 1])
                #expect(second.owned == ranges[firstIsLower ? 1 : 0])
                #expect(firstCoordinator.generation > firstGeneration)
                #expect(firstCoordinator.generation == secondCoordinator.generation)
                // Eager: the first member gave up everything before it got its half.
                #expect(first.events.count == 3)
                #expect(first.events.dropFirst().first == .revoked(Self.partitions("orders", 0...3).sorted()))
                #expect(first.events.last?.assignedPartitions == first.owned)
                #expect(second.events.count == 1)

                // The second member leaves: it revokes, sends LeaveGroup, and the first member gets all 4 back.
                try await harness.stop(secondCoordinator)
                #expect(second.events.last == .revoked(ranges[firstIsLower ? 1 : 0].sorted()))
                #expect(second.events.count == 2)
                try await eventually("the first member owns all 4 partitions again") {
                    first.owned == Self.partitions("orders", 0...3)
                }
                #expect(first.events.count == 5)
                #expect(first.events[3] == .revoked(ranges[firstIsLower ? 0 : 1].sorted()))
                #expect(secondCoordinator.memberID == "")
            }
        }
    }

    @Test("commit, then committedOffsets; close commits the consumed positions; the next member starts there")
    func commitAndCommittedOffsetsRoundTrip() async throws {
        let oracle = LibrdkafkaOracle()
        try await withTansuBroker { broker in
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "ledger", partitions: 4)
            try await withGroupHarness(broker) { harness in
                let configuration = Self.groupConfiguration("commit-group", autoCommit: .seconds(60))
                let member = RecordingMember()
                let coordinator = try harness.start(configuration, .topics(["ledger"]), member)
                try await eventually("the member owns all 4 partitions") { member.owned.count == 4 }

                try await coordinator.commit([Self.tp("ledger", 0): 5, Self.tp("ledger", 1): 7])
                let committed = try await coordinator.committedOffsets(for: Self.partitions("ledger", 0...3).sorted())
                #expect(committed == [Self.tp("ledger", 0): 5, Self.tp("ledger", 1): 7])
                // librdkafka reads the same offsets.
                let seen = try await oracle.committed(
                    bootstrap: broker.bootstrap, group: "commit-group", topic: "ledger")
                #expect(seen == [0: 5, 1: 7, 2: nil, 3: nil])

                // Closing commits the consumed positions (auto-commit is on) before revoking.
                member.setPositions([Self.tp("ledger", 2): 3, Self.tp("ledger", 1): 9])
                try await harness.stop(coordinator)
                #expect(member.events.last == .revoked(Self.partitions("ledger", 0...3).sorted()))

                let next = RecordingMember()
                _ = try harness.start(configuration, .topics(["ledger"]), next)
                try await eventually("the next member owns all 4 partitions") { next.owned.count == 4 }
                #expect(
                    next.events.first
                        == .assigned([
                            Self.tp("ledger", 0): 5, Self.tp("ledger", 1): 9, Self.tp("ledger", 2): 3,
                            Self.tp("ledger", 3): nil,
                        ])
                )
            }
        }
    }

    @Test("cancelling run() commits, revokes and leaves like close(); the other member takes everything over")
    func cancellationLeavesTheGroup() async throws {
        let oracle = LibrdkafkaOracle()
        try await withTansuBroker { broker in
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "cancel", partitions: 2)
            try await withGroupHarness(broker) { harness in
                let configuration = Self.groupConfiguration("cancel-group", autoCommit: .seconds(60))
                let stayer = RecordingMember()
                _ = try harness.start(configuration, .topics(["cancel"]), stayer)
                try await eventually("the first member owns both partitions") { stayer.owned.count == 2 }

                let quitter = RecordingMember()
                let coordinator = try ConsumerGroupCoordinator(
                    cluster: harness.cluster,
                    configuration: configuration,
                    subscription: .topics(["cancel"]),
                    member: quitter
                )
                let run = Task { try await coordinator.run() }
                try await eventually("the members own one partition each") {
                    stayer.owned.count == 1 && quitter.owned.count == 1
                }
                let quitterPartition = try #require(quitter.owned.first)
                quitter.setPositions([quitterPartition: 11])
                run.cancel()
                try await run.value
                #expect(quitter.events.last == .revoked([quitterPartition]))
                #expect(coordinator.memberID == "")
                try await eventually("the first member owns both partitions again") { stayer.owned.count == 2 }
                #expect(
                    stayer.events.last
                        == .assigned([quitterPartition: 11, Self.tp("cancel", 1 - quitterPartition.partition): nil]))
            }
        }
    }

    @Test("a commit outside a generation is refused as REBALANCE_IN_PROGRESS without asking the broker")
    func commitBeforeJoiningIsRefused() async throws {
        try await withTansuBroker { broker in
            try await withGroupHarness(broker) { harness in
                let coordinator = try ConsumerGroupCoordinator(
                    cluster: harness.cluster,
                    configuration: Self.groupConfiguration("idle-group"),
                    subscription: .topics(["none"]),
                    member: RecordingMember()
                )
                do throws(KafkaError) {
                    try await coordinator.commit([Self.tp("none", 0): 1])
                    Issue.record("the commit was accepted")
                } catch {
                    #expect(error.name == "REBALANCE_IN_PROGRESS")
                }
            }
        }
    }

    @Test("roundrobin deals the partitions of two topics out in turn")
    func roundRobinOverTwoTopics() async throws {
        let oracle = LibrdkafkaOracle()
        try await withTansuBroker { broker in
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "rr-a", partitions: 3)
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "rr-b", partitions: 2)
            try await withGroupHarness(broker) { harness in
                // Range is offered too, second: the coordinator picks the first protocol all members support.
                let configuration = Self.groupConfiguration("rr-group", assignors: [.roundRobin, .range])
                let first = RecordingMember()
                let firstCoordinator = try harness.start(configuration, .topics(["rr-a", "rr-b"]), first)
                try await eventually("the first member owns all 5 partitions") { first.owned.count == 5 }
                let second = RecordingMember()
                let secondCoordinator = try harness.start(configuration, .topics(["rr-b", "rr-a"]), second)
                try await eventually("the partitions are split 3+2") {
                    first.owned.count + second.owned.count == 5 && min(first.owned.count, second.owned.count) == 2
                }
                // All partitions by topic then partition, dealt to the members sorted by member id.
                let lower = firstCoordinator.memberID < secondCoordinator.memberID ? first : second
                let upper = lower === first ? second : first
                #expect(lower.owned == [Self.tp("rr-a", 0), Self.tp("rr-a", 2), Self.tp("rr-b", 1)])
                #expect(upper.owned == [Self.tp("rr-a", 1), Self.tp("rr-b", 0)])
            }
        }
    }

    @Test("a pattern subscription picks up a new matching topic at the next topic refresh")
    func patternSubscriptionFollowsNewTopics() async throws {
        let oracle = LibrdkafkaOracle()
        try await withTansuBroker { broker in
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "events-1", partitions: 1)
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "other", partitions: 1)
            try await withGroupHarness(broker) { harness in
                var configuration = Self.groupConfiguration("pattern-group")
                configuration.topicRefreshInterval = .milliseconds(500)
                let member = RecordingMember()
                _ = try harness.start(
                    configuration,
                    .pattern(description: "events-.*") { $0.hasPrefix("events-") },
                    member
                )
                try await eventually("the member owns events-1") { member.owned == [Self.tp("events-1", 0)] }
                try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "events-2", partitions: 2)
                try await eventually("the member owns events-1 and events-2") {
                    member.owned == Set([Self.tp("events-1", 0), Self.tp("events-2", 0), Self.tp("events-2", 1)])
                }
                #expect(member.events.dropFirst().first == .revoked([Self.tp("events-1", 0)]))
            }
        }
    }

    @Test("a restarted broker that forgot the group: the heartbeat gets UNKNOWN_MEMBER_ID, the member rejoins afresh")
    func recoversFromABrokerThatForgotTheGroup() async throws {
        let oracle = LibrdkafkaOracle()
        // Memory storage: the restarted broker knows neither the group nor the topic.
        try await withTansuBroker { broker in
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "volatile", partitions: 2)
            try await withGroupHarness(broker) { harness in
                // No topic refresh during the test (default 30 s): the heartbeat is what notices the restart. A
                // refresh first would see the topic gone and make the leader rejoin with its old member id,
                // which tansu 0.6 accepts (Kafka: UNKNOWN_MEMBER_ID).
                let member = RecordingMember()
                let coordinator = try harness.start(
                    Self.groupConfiguration("restart-group"),
                    .topics(["volatile"]),
                    member
                )
                try await eventually("the member owns both partitions") { member.owned.count == 2 }
                let memberBefore = coordinator.memberID

                try await broker.restart(graceful: false)
                let restarted = NIODeadline.now()
                // The partitions are lost (revoked without a commit), the member joins with a new member id; the
                // topic is gone, so it gets nothing.
                try await eventually("the member is back in a group, owning nothing") {
                    (coordinator.lastConfirmedAt ?? .distantPast) > restarted && member.events.last == .assigned([:])
                }
                #expect(member.events.contains(.revoked([Self.tp("volatile", 0), Self.tp("volatile", 1)])))
                #expect(coordinator.memberID != memberBefore)
                #expect(!coordinator.memberID.isEmpty)
            }
        }
    }

    @Test("the leader rebalances when a subscribed topic appears, and the member gets its partitions")
    func leaderFollowsPartitionCounts() async throws {
        let oracle = LibrdkafkaOracle()
        try await withTansuBroker { broker in
            try await withGroupHarness(broker) { harness in
                var configuration = Self.groupConfiguration("counts-group")
                configuration.topicRefreshInterval = .milliseconds(500)
                let member = RecordingMember()
                let coordinator = try harness.start(configuration, .topics(["later"]), member)
                try await eventually("the member joined, owning nothing") { member.events == [.assigned([:])] }
                let generation = coordinator.generation

                try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "later", partitions: 3)
                try await eventually("the member owns the 3 partitions") {
                    member.owned == Self.partitions("later", 0...2)
                }
                #expect(coordinator.generation == generation + 1, "one rebalance, not more")
                try await coordinator.commit([Self.tp("later", 2): 6])
                let committed = try await coordinator.committedOffsets(for: Self.partitions("later", 0...2).sorted())
                #expect(committed == [Self.tp("later", 2): 6])
            }
        }
    }

    @Test("a librdkafka member and this client share a group")
    func sharesAGroupWithLibrdkafka() async throws {
        let oracle = LibrdkafkaOracle()
        try await withTansuBroker { broker in
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "mixed", partitions: 4)
            try await withGroupHarness(broker) { harness in
                let member = RecordingMember()
                let coordinator = try harness.start(
                    Self.groupConfiguration("mixed-group", assignors: [.range]),
                    .topics(["mixed"]),
                    member
                )
                try await eventually("the member owns all 4 partitions") { member.owned.count == 4 }
                let startGeneration = coordinator.generation
                // librdkafka joins for a while (no records, so it stops after idleSeconds once assigned).
                let report = try await oracle.groupMember(
                    bootstrap: broker.bootstrap,
                    group: "mixed-group",
                    topics: ["mixed"],
                    assignor: "range",
                    idleSeconds: 3,
                    maxSeconds: 40,
                    commit: false
                )
                let theirs = Set(
                    report.assignments.filter { $0.event == "assign" }.flatMap(\.partitions).map {
                        Self.tp($0.topic, Int32($0.partition))
                    }
                )
                #expect(theirs.count == 2, "librdkafka's assignments: \(report.assignments)")
                #expect(
                    member.events.contains {
                        $0.assignedPartitions.count == 2 && $0.assignedPartitions.isDisjoint(with: theirs)
                    }
                )
                // Once it left, this member gets everything back.
                try await eventually("the member owns all 4 partitions again") { member.owned.count == 4 }
                // One rebalance for librdkafka's join, one for its leave.
                #expect(coordinator.generation >= startGeneration + 2)
            }
        }
    }
}

// MARK: - Harness

/// A member that records what the coordinator tells it.
final class RecordingMember: ConsumerGroupMember {
    enum Event: Equatable, Sendable, CustomStringConvertible {
        case assigned([KafkaTopicPartition: Int64?])
        case revoked([KafkaTopicPartition])

        var assignedPartitions: Set<KafkaTopicPartition> {
            if case .assigned(let offsets) = self { return Set(offsets.keys) }
            return []
        }

        var description: String {
            switch self {
            case .assigned(let offsets):
                "assigned \(offsets.keys.sorted().map { "\($0)@\(offsets[$0]!.map(String.init) ?? "-")" })"
            case .revoked(let partitions): "revoked \(partitions)"
            }
        }
    }

    private struct State {
        var events: [Event] = []
        var positions: [KafkaTopicPartition: Int64] = [:]
    }

    private let state = Mutex(State())

    func partitionsRevoked(_ partitions: [KafkaTopicPartition]) async {
        state.withLock { $0.events.append(.revoked(partitions.sorted())) }
    }

    func partitionsAssigned(_ partitions: [KafkaTopicPartition: Int64?]) async {
        state.withLock { $0.events.append(.assigned(partitions)) }
    }

    func consumedPositions() -> [KafkaTopicPartition: Int64] {
        state.withLock { $0.positions }
    }

    func setPositions(_ positions: [KafkaTopicPartition: Int64]) {
        state.withLock { $0.positions = positions }
    }

    var events: [Event] { state.withLock { $0.events } }

    /// What the member owns after the last callback.
    var owned: Set<KafkaTopicPartition> { events.last?.assignedPartitions ?? [] }
}

/// Starts coordinators on one cluster, and closes all of them (then the cluster) however the test ends.
final class GroupHarness: Sendable {
    let cluster: KafkaCluster
    private let running = Mutex<[(ConsumerGroupCoordinator, Task<Void, any Error>)]>([])

    init(bootstrap: String) throws {
        var logger = Logger(label: "sluice.kafka.group-tests")
        // SLUICE_TEST_LOG_LEVEL=debug (or trace) shows the membership protocol step by step.
        let level = ProcessInfo.processInfo.environment["SLUICE_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        logger.logLevel = level ?? .warning
        cluster = try KafkaCluster(
            configuration: KafkaClientConfiguration(bootstrapServers: bootstrap),
            logger: logger
        )
    }

    func start(
        _ configuration: KafkaConsumerGroupConfiguration,
        _ subscription: ConsumerGroupSubscription,
        _ member: RecordingMember
    ) throws -> ConsumerGroupCoordinator {
        let coordinator = try ConsumerGroupCoordinator(
            cluster: cluster,
            configuration: configuration,
            subscription: subscription,
            member: member
        )
        let task = Task { try await coordinator.run() }
        running.withLock { $0.append((coordinator, task)) }
        return coordinator
    }

    /// Closes a coordinator and waits until its `run()` returned (it must not throw).
    func stop(_ coordinator: ConsumerGroupCoordinator) async throws {
        guard let task = running.withLock({ $0.first { $0.0 === coordinator }?.1 }) else { return }
        coordinator.close()
        try await task.value
    }

    func shutdown() async {
        let all = running.withLock { $0 }
        for (coordinator, _) in all { coordinator.close() }
        for (_, task) in all {
            do {
                try await task.value
            } catch {
                Issue.record("a coordinator's run() threw: \(error)")
            }
        }
        await cluster.shutdown()
    }
}

func withGroupHarness(_ broker: TansuBroker, _ body: (GroupHarness) async throws -> Void) async throws {
    let harness = try GroupHarness(bootstrap: broker.bootstrap)
    do {
        try await body(harness)
    } catch {
        await harness.shutdown()
        throw error
    }
    await harness.shutdown()
}

/// Waits until `condition` holds, checking every 50 ms; throws after `timeout`.
func eventually(
    _ what: String,
    timeout: Duration = .seconds(30),
    _ condition: () -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while !condition() {
        guard clock.now < deadline else { throw BrokerHarnessError("timed out waiting until \(what)") }
        try await Task.sleep(for: .milliseconds(50))
    }
}
