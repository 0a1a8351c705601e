import Foundation
import KafkaClient
import KafkaTestSupport
import KafkaWire
import NIOCore
import Testing

/// Sluice's client and librdkafka (PyPI confluent-kafka) agree on partitions, and each client's consumer groups
/// hand every record to exactly one member through joins and leaves.
@Suite(.serialized) struct LibrdkafkaInteropTests {
    let oracle = LibrdkafkaOracle()

    @Test func tenThousandKeysLandOnTheSamePartitionsAsWithLibrdkafka() async throws {
        try await withTansuBroker { broker in
            let keys = (0..<10_000).map { "key-\($0)-\(($0 &* 2_654_435_761) % 1_000_003)" }
            _ = try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "keys-librdkafka", partitions: 7)
            let librdkafka = try await oracle.partitionsForKeys(
                bootstrap: broker.bootstrap, topic: "keys-librdkafka", keys: keys
            )
            let cluster = try makeCluster(broker)
            try await cluster.createTopics([("keys-sluice", 7)])
            var configuration = KafkaProducerConfiguration()
            configuration.acks = .leader
            let producer = try KafkaProducer(cluster: cluster, configuration: configuration)
            let sluice = try await whileRunning(producer) {
                try await withThrowingTaskGroup(of: (Int, Int32).self) { group in
                    for (index, key) in keys.enumerated() {
                        group.addTask {
                            let metadata = try await producer.send(
                                KafkaProducerRecord(topic: "keys-sluice", key: ByteBuffer(string: key), value: nil)
                            )
                            return (index, metadata.partition)
                        }
                    }
                    var partitions = [Int32](repeating: -1, count: keys.count)
                    for try await (index, partition) in group { partitions[index] = partition }
                    return partitions
                }
            }
            #expect(librdkafka.count == keys.count)
            let disagreements = zip(librdkafka, sluice).filter { Int32($0) != $1 }.count
            #expect(disagreements == 0)
            await cluster.shutdown()
        }
    }

    @Test func aGroupOfSluiceConsumersSharesEveryRecordExactlyOnceThroughJoinAndLeave() async throws {
        try await withTansuBroker { broker in
            let cluster = try makeCluster(broker)
            try await cluster.createTopics([("shared", 4)])
            let producer = try KafkaProducer(cluster: cluster)
            func member(_ name: String) throws -> (KafkaConsumer, RecordingListener) {
                let listener = RecordingListener()
                var configuration = KafkaConsumerConfiguration()
                configuration.autoOffsetReset = .earliest
                var group = KafkaConsumerGroupConfiguration(groupID: "sluice-group")
                group.sessionTimeout = .seconds(10)
                group.heartbeatInterval = .seconds(1)
                group.autoCommitInterval = .milliseconds(500)
                configuration.group = group
                configuration.rebalanceListener = listener
                let consumer = KafkaConsumer(cluster: cluster, configuration: configuration)
                try consumer.subscribe(topics: ["shared"])
                return (consumer, listener)
            }
            let (first, firstListener) = try member("first")
            let (second, secondListener) = try member("second")
            let seen = SeenRecords()
            func produce(_ range: Range<Int>) async throws {
                for index in range {
                    _ = try await producer.send(
                        KafkaProducerRecord(
                            topic: "shared", key: ByteBuffer(string: "\(index)"), value: ByteBuffer(string: "\(index)"))
                    )
                }
            }
            try await whileRunning(producer) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await first.run() }
                    group.addTask { for try await record in first.records { seen.add(record, by: "first") } }
                    try await produce(0..<200)
                    try await seen.wait(until: 200)
                    group.addTask { try await second.run() }
                    group.addTask { for try await record in second.records { seen.add(record, by: "second") } }
                    try await secondListener.waitForAssignment()
                    try await produce(200..<400)
                    try await seen.wait(until: 400)
                    first.close()
                    try await secondListener.waitForAssignment(count: 4)
                    try await produce(400..<600)
                    try await seen.wait(until: 600)
                    second.close()
                    try await group.waitForAll()
                }
            }
            #expect(seen.duplicates == [])
            #expect(seen.values == Set((0..<600).map { "\($0)" }))
            #expect(seen.count(by: "first") > 0)
            #expect(seen.count(by: "second") > 0)
            // Eager rebalancing: the first member gave all 4 partitions back when the second joined.
            #expect(firstListener.events.first == .assigned(4))
            #expect(firstListener.events.contains(.revoked(4)))
            await cluster.shutdown()
        }
    }

    @Test func aGroupOfLibrdkafkaConsumersSharesEveryRecordExactlyOnceThroughJoinAndLeave() async throws {
        try await withTansuBroker { broker in
            let cluster = try makeCluster(broker)
            try await cluster.createTopics([("shared-rd", 4)])
            let producer = try KafkaProducer(cluster: cluster)
            func produce(_ range: Range<Int>) async throws {
                for index in range {
                    _ = try await producer.send(
                        KafkaProducerRecord(
                            topic: "shared-rd", key: ByteBuffer(string: "\(index)"),
                            value: ByteBuffer(string: "\(index)"))
                    )
                }
            }
            let (first, second) = try await whileRunning(producer) {
                try await withThrowingTaskGroup(of: (Int, OracleGroupMemberReport).self) { group in
                    try await produce(0..<200)
                    group.addTask {
                        (
                            1,
                            try await oracle.groupMember(
                                bootstrap: broker.bootstrap, group: "rd-group", topics: ["shared-rd"], idleSeconds: 60,
                                maxSeconds: 22)
                        )
                    }
                    try await Task.sleep(for: .seconds(6))
                    group.addTask {
                        (
                            2,
                            try await oracle.groupMember(
                                bootstrap: broker.bootstrap, group: "rd-group", topics: ["shared-rd"], idleSeconds: 12,
                                maxSeconds: 60)
                        )
                    }
                    try await Task.sleep(for: .seconds(6))
                    try await produce(200..<400)
                    // The first member leaves at 22 s; records produced after that go to the second alone.
                    try await Task.sleep(for: .seconds(14))
                    try await produce(400..<600)
                    var reports: [Int: OracleGroupMemberReport] = [:]
                    for try await (index, report) in group { reports[index] = report }
                    return (reports[1]!, reports[2]!)
                }
            }
            let values = (first.records + second.records).map { String(decoding: $0.value ?? [], as: UTF8.self) }
            #expect(values.count == 600)
            #expect(Set(values) == Set((0..<600).map { "\($0)" }))
            // The second member was rebalanced in (a share) and then took everything over.
            #expect(second.assignments.filter { $0.event == "assign" }.count >= 2)
            #expect(!first.records.isEmpty && !second.records.isEmpty)
            await cluster.shutdown()
        }
    }
}

/// Records what a rebalance listener hears.
final class RecordingListener: KafkaRebalanceListener, @unchecked Sendable {
    enum Event: Equatable {
        case assigned(Int)
        case revoked(Int)
    }

    private let lock = NSLock()
    private var recorded: [Event] = []
    private var owned = 0

    var events: [Event] { lock.withLock { recorded } }

    func partitionsRevoked(_ partitions: [KafkaTopicPartition]) async {
        lock.withLock {
            recorded.append(.revoked(partitions.count))
            owned = 0
        }
    }

    func partitionsAssigned(_ partitions: [KafkaTopicPartition]) async {
        lock.withLock {
            recorded.append(.assigned(partitions.count))
            owned = partitions.count
        }
    }

    /// Waits until the member owns partitions (exactly `count` when given).
    func waitForAssignment(count: Int? = nil, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let current = lock.withLock { owned }
            if current > 0 && (count == nil || current == count) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestTimeout(description: "no assignment of \(count.map(String.init) ?? "any") partitions in \(timeout)")
    }
}

/// Every record value the members of a group handed out, and who handed it out.
final class SeenRecords: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [String: String] = [:]
    private var repeated: [String] = []

    func add(_ record: KafkaConsumerRecord, by member: String) {
        let value = String(buffer: record.value ?? ByteBuffer())
        lock.withLock {
            if seen[value] != nil { repeated.append(value) }
            seen[value] = member
        }
    }

    var values: Set<String> { lock.withLock { Set(seen.keys) } }
    var duplicates: [String] { lock.withLock { repeated } }
    func count(by member: String) -> Int { lock.withLock { seen.values.filter { $0 == member }.count } }

    func wait(until count: Int, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if lock.withLock({ seen.count }) >= count { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestTimeout(description: "only \(lock.withLock { seen.count }) of \(count) records in \(timeout)")
    }
}
