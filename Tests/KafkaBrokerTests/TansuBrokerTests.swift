import Foundation
import KafkaTestSupport
import Testing

/// The harness itself: a real tansu broker, driven by librdkafka through the oracle.
@Suite("tansu broker and librdkafka oracle", .timeLimit(.minutes(3)))
struct TansuBrokerTests {
    @Test("librdkafka creates a 3-partition topic, produces 10 records and consumes them back")
    func oracleRoundTrip() async throws {
        let oracle = LibrdkafkaOracle()
        try await withTansuBroker { broker in
            let partitions = try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "harness", partitions: 3)
            #expect(partitions == 3)

            let records = (0..<10).map { index in
                OracleRecord(
                    key: "key-\(index)", value: "value-\(index)",
                    headers: [OracleHeader("trace", "t-\(index)"), OracleHeader("empty", nil as [UInt8]?)],
                    timestamp: 1_700_000_000_000 + Int64(index))
            }
            let delivered = try await oracle.produce(bootstrap: broker.bootstrap, topic: "harness", records: records)
            #expect(delivered.count == 10)
            #expect(delivered.allSatisfy { $0.error == nil && $0.offset != nil && (0..<3).contains($0.partition) })

            let consumed = try await oracle.consume(bootstrap: broker.bootstrap, topic: "harness", count: 10)
            #expect(consumed.count == 10)
            for (record, delivery) in zip(records, delivered) {
                let match = consumed.first { $0.partition == delivery.partition && $0.offset == delivery.offset }
                #expect(match?.key == record.key)
                #expect(match?.value == record.value)
                #expect(match?.headers == record.headers)
                #expect(match?.timestamp == record.timestamp)
                #expect(match?.timestampType == "create_time")
            }
        }
    }

    @Test("with s3 storage, records and committed offsets survive a broker crash and restart on the same port")
    func restartKeepsDataWithS3Storage() async throws {
        let oracle = LibrdkafkaOracle()
        try await withTansuBroker(storage: .s3) { broker in
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "durable", partitions: 2)
            let records = (0..<6).map { OracleRecord(key: "k\($0)", value: "v\($0)") }
            _ = try await oracle.produce(bootstrap: broker.bootstrap, topic: "durable", records: records)
            let member = try await oracle.groupMember(
                bootstrap: broker.bootstrap, group: "durable-group", topics: ["durable"], maxRecords: 6,
                idleSeconds: 5, maxSeconds: 30)
            #expect(member.records.count == 6)
            let committedBefore = try await oracle.committed(
                bootstrap: broker.bootstrap, group: "durable-group", topic: "durable")

            let port = broker.port
            try await broker.restart(graceful: false)
            #expect(broker.port == port)

            let consumed = try await oracle.consume(bootstrap: broker.bootstrap, topic: "durable", count: 6)
            #expect(
                Set(consumed.compactMap { $0.value.map { String(decoding: $0, as: UTF8.self) } })
                    == Set((0..<6).map { "v\($0)" }))
            let committedAfter = try await oracle.committed(
                bootstrap: broker.bootstrap, group: "durable-group", topic: "durable")
            #expect(committedAfter == committedBefore)
            #expect(committedAfter.values.compactMap { $0 }.reduce(0, +) == 6)
        }
    }

    @Test("with memory storage, a restarted broker answers on the same port and starts empty")
    func restartWithMemoryStorageStartsEmpty() async throws {
        let oracle = LibrdkafkaOracle()
        try await withTansuBroker { broker in
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "volatile", partitions: 1)
            try await broker.restart()
            struct Topics: Decodable {
                struct Topic: Decodable { let partitions: Int }
                let topics: [String: Topic]
            }
            let topics = try await oracle.run(Topics.self, "topics", ["--bootstrap", broker.bootstrap])
            #expect(topics.topics.isEmpty)
        }
    }

    @Test("a missing tansu binary is reported with the script that installs it")
    func missingBinaryNamesTheTestScript() {
        let error = #expect(throws: BrokerHarnessError.self) {
            try BrokerTestEnvironment.tansuBinary(environment: [:], root: URL(fileURLWithPath: "/nonexistent"))
        }
        #expect(error?.description.contains("scripts/test.sh") == true)
    }
}
