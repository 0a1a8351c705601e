import Foundation
import KafkaClient
import KafkaTestSupport
import KafkaWire
import NIOCore
import Testing

/// A broker that goes away mid-stream: the producer delivers or reports every record, the client reconnects by
/// itself, and a group consumer resumes from its committed offset. The broker keeps its data across the restart
/// (tansu on S3 storage).
@Suite(.serialized) struct BrokerRestartTests {
    let oracle = LibrdkafkaOracle()

    @Test func producerDeliversOrReportsEveryRecordAcrossARestart() async throws {
        try await withTansuBroker(storage: .s3) { broker in
            let cluster = try makeCluster(broker) { $0.reconnectBackoffMax = .milliseconds(500) }
            try await cluster.createTopics([("restart", 2)])
            var configuration = KafkaProducerConfiguration()
            configuration.deliveryTimeout = .seconds(30)
            configuration.linger = .milliseconds(2)
            let producer = try KafkaProducer(cluster: cluster, configuration: configuration)
            let reports = DeliveryReports()
            try await whileRunning(producer) {
                for index in 0..<300 {
                    if index == 100 {
                        try await broker.restart(graceful: false)
                    }
                    try await producer.produce(
                        KafkaProducerRecord(
                            topic: "restart", key: ByteBuffer(string: "\(index)"), value: ByteBuffer(string: "\(index)")
                        )
                    ) { reports.add(index, $0) }
                    try await Task.sleep(for: .milliseconds(5))
                }
                await producer.flush()
            }
            let outcome = reports.snapshot
            #expect(outcome.count == 300, "every record gets exactly one report")
            let delivered = outcome.compactMap { index, result in (try? result.get()).map { (index, $0) } }
            #expect(delivered.count > 200, "the producer reconnected and went on delivering")
            // Retried batches may be stored twice (the producer is not idempotent here): read past the delivered count.
            let consumed = try await oracle.consume(
                bootstrap: broker.bootstrap, topic: "restart", count: delivered.count + 100, seconds: 15)
            let stored = Set(
                consumed.map { "\($0.partition)/\($0.offset)=\(String(decoding: $0.value ?? [], as: UTF8.self))" })
            for (index, metadata) in delivered {
                #expect(stored.contains("\(metadata.partition)/\(metadata.offset)=\(index)"), "record \(index)")
            }
            await cluster.shutdown()
        }
    }

    @Test func groupConsumerResumesFromTheCommittedOffsetAfterARestart() async throws {
        try await withTansuBroker(storage: .s3) { broker in
            let cluster = try makeCluster(broker) { $0.reconnectBackoffMax = .milliseconds(500) }
            try await cluster.createTopics([("resume", 1)])
            let producer = try KafkaProducer(cluster: cluster)
            try await whileRunning(producer) {
                for index in 0..<100 {
                    try await producer.produce(
                        KafkaProducerRecord(topic: "resume", value: ByteBuffer(string: "\(index)"))
                    ) { _ in }
                }
                await producer.flush()
            }
            func groupConsumer() throws -> KafkaConsumer {
                var configuration = KafkaConsumerConfiguration()
                configuration.autoOffsetReset = .earliest
                var group = KafkaConsumerGroupConfiguration(groupID: "resumers")
                group.autoCommitInterval = nil
                group.heartbeatInterval = .seconds(1)
                group.sessionTimeout = .seconds(10)
                configuration.group = group
                let consumer = KafkaConsumer(cluster: cluster, configuration: configuration)
                try consumer.subscribe(topics: ["resume"])
                return consumer
            }
            let first = try groupConsumer()
            let firstRecords = try await whileRunning(nil, [first]) {
                let records = try await collect(40, from: first, timeout: .seconds(60))
                try await first.commit()
                return records
            }
            #expect(firstRecords.map(\.offset) == Array(0..<40))

            try await broker.restart(graceful: false)

            let second = try groupConsumer()
            let secondRecords = try await whileRunning(nil, [second]) {
                try await collect(60, from: second, timeout: .seconds(90))
            }
            #expect(secondRecords.map(\.offset) == Array(40..<100))
            await cluster.shutdown()
        }
    }
}

/// Delivery reports by record index, from callbacks on I/O threads.
final class DeliveryReports: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [Int: Result<KafkaRecordMetadata, KafkaError>] = [:]
    private var duplicateReports = 0

    func add(_ index: Int, _ result: Result<KafkaRecordMetadata, KafkaError>) {
        lock.withLock {
            if reports[index] != nil { duplicateReports += 1 }
            reports[index] = result
        }
    }

    var snapshot: [(Int, Result<KafkaRecordMetadata, KafkaError>)] {
        lock.withLock { reports.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    }
}
