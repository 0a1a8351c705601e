import Foundation
import KafkaClient
import KafkaTestSupport
import KafkaWire
import NIOCore
import Testing

/// The producer against a real broker (tansu), with librdkafka reading back what it wrote.
@Suite(.serialized) struct ProducerBrokerTests {
    let oracle = LibrdkafkaOracle()

    @Test func keyedRecordsGetContiguousOffsetsOnTheirMurmur2Partition() async throws {
        try await withTansuBroker { broker in
            let cluster = try makeCluster(broker)
            try await cluster.createTopics([("orders", 3)])
            var configuration = KafkaProducerConfiguration()
            configuration.acks = .leader
            let producer = try KafkaProducer(cluster: cluster, configuration: configuration)
            let delivered = try await whileRunning(producer) {
                var delivered: [KafkaRecordMetadata] = []
                for index in 0..<30 {
                    delivered.append(
                        try await producer.send(
                            KafkaProducerRecord(
                                topic: "orders",
                                key: ByteBuffer(string: "customer-\(index % 7)"),
                                value: ByteBuffer(string: "order \(index)")
                            )
                        )
                    )
                }
                return delivered
            }
            var nextOffset: [Int32: Int64] = [:]
            for (index, metadata) in delivered.enumerated() {
                let expected = KafkaPartitioner.partition(
                    forKey: Array("customer-\(index % 7)".utf8),
                    partitionCount: 3
                )
                #expect(metadata.partition == expected)
                #expect(metadata.offset == nextOffset[metadata.partition, default: 0])
                nextOffset[metadata.partition] = metadata.offset + 1
            }
            await cluster.shutdown()
        }
    }

    @Test(arguments: [KafkaCompressionCodec.none, .gzip, .snappy, .lz4, .zstd])
    func librdkafkaReadsWhatTheProducerWroteWithEachCodec(codec: KafkaCompressionCodec) async throws {
        try await withTansuBroker { broker in
            let cluster = try makeCluster(broker)
            try await cluster.createTopics([("codec", 1)])
            var configuration = KafkaProducerConfiguration()
            configuration.compression = codec
            configuration.linger = .milliseconds(20)
            let producer = try KafkaProducer(cluster: cluster, configuration: configuration)
            let records = (0..<200).map { index in
                KafkaProducerRecord(
                    topic: "codec",
                    key: ByteBuffer(string: "k\(index)"),
                    value: ByteBuffer(string: String(repeating: "value \(index) ", count: 20)),
                    headers: [KafkaRecordHeader(key: "n", value: ByteBuffer(string: "\(index)"))],
                    timestamp: 1_700_000_000_000 + Int64(index)
                )
            }
            try await whileRunning(producer) {
                try await withThrowingTaskGroup(of: KafkaRecordMetadata.self) { group in
                    for record in records { group.addTask { try await producer.send(record) } }
                    for try await _ in group {}
                }
            }
            let consumed = try await oracle.consume(bootstrap: broker.bootstrap, topic: "codec", count: 200)
            #expect(consumed.count == 200)
            let byKey = Dictionary(uniqueKeysWithValues: records.map { (Array($0.key!.readableBytesView), $0) })
            for record in consumed {
                let sent = try #require(byKey[record.key ?? []])
                #expect(record.value == sent.value.bytes)
                #expect(record.timestamp == sent.timestamp)
                #expect(record.headers == [OracleHeader("n", sent.headers[0].value.bytes)])
            }
            await cluster.shutdown()
        }
    }

    @Test func idempotentProducerDeliversInOrder() async throws {
        try await withTansuBroker { broker in
            let cluster = try makeCluster(broker)
            try await cluster.createTopics([("idempotent", 2)])
            var configuration = KafkaProducerConfiguration()
            configuration.idempotent = true
            let producer = try KafkaProducer(cluster: cluster, configuration: configuration)
            let delivered = try await whileRunning(producer) {
                var delivered: [KafkaRecordMetadata] = []
                for index in 0..<50 {
                    delivered.append(
                        try await producer.send(
                            KafkaProducerRecord(
                                topic: "idempotent", partition: Int32(index % 2), value: ByteBuffer(string: "\(index)"))
                        )
                    )
                }
                return delivered
            }
            #expect(delivered.filter { $0.partition == 0 }.map(\.offset) == Array(0..<25))
            #expect(delivered.filter { $0.partition == 1 }.map(\.offset) == Array(0..<25))
            let consumed = try await oracle.consume(bootstrap: broker.bootstrap, topic: "idempotent", count: 50)
            #expect(consumed.count == 50)
            await cluster.shutdown()
        }
    }

    @Test func acksNoneDeliversWithoutOffsets() async throws {
        try await withTansuBroker { broker in
            let cluster = try makeCluster(broker)
            try await cluster.createTopics([("fire-and-forget", 1)])
            var configuration = KafkaProducerConfiguration()
            configuration.acks = .none
            let producer = try KafkaProducer(cluster: cluster, configuration: configuration)
            let delivered = try await whileRunning(producer) {
                var delivered: [KafkaRecordMetadata] = []
                for index in 0..<10 {
                    delivered.append(
                        try await producer.send(
                            KafkaProducerRecord(topic: "fire-and-forget", value: ByteBuffer(string: "\(index)")))
                    )
                }
                return delivered
            }
            #expect(delivered.allSatisfy { $0.offset == -1 })
            // The connection stays open meanwhile: tansu may drop acks=0 requests of a connection closed at once.
            let consumed = try await oracle.consume(bootstrap: broker.bootstrap, topic: "fire-and-forget", count: 10)
            #expect(consumed.map { String(decoding: $0.value ?? [], as: UTF8.self) } == (0..<10).map { "\($0)" })
            await cluster.shutdown()
        }
    }

    @Test func boundedBufferAppliesBackPressureAndLosesNothing() async throws {
        try await withTansuBroker { broker in
            let cluster = try makeCluster(broker)
            try await cluster.createTopics([("pressure", 2)])
            var configuration = KafkaProducerConfiguration()
            configuration.batchBytes = 16 * 1024
            configuration.bufferBytes = 64 * 1024
            let producer = try KafkaProducer(cluster: cluster, configuration: configuration)
            let value = ByteBuffer(repeating: 0x61, count: 1024)
            let outcomes = OutcomeCounter()
            try await whileRunning(producer) {
                for index in 0..<3000 {
                    try await producer.produce(
                        KafkaProducerRecord(topic: "pressure", key: ByteBuffer(string: "\(index)"), value: value)
                    ) { outcomes.record($0) }
                }
                await producer.flush()
            }
            #expect(outcomes.delivered == 3000)
            #expect(outcomes.failed == 0)
            await cluster.shutdown()
        }
    }

    @Test func unknownTopicAndOversizedRecordAreReportedByName() async throws {
        try await withTansuBroker { broker in
            let cluster = try makeCluster(broker)
            try await cluster.createTopics([("small", 1)])
            var configuration = KafkaProducerConfiguration()
            configuration.maximumRecordBytes = 1024
            let producer = try KafkaProducer(cluster: cluster, configuration: configuration)
            try await whileRunning(producer) {
                let missing = await #expect(throws: KafkaError.self) {
                    try await producer.send(KafkaProducerRecord(topic: "no-such-topic", value: ByteBuffer(string: "x")))
                }
                #expect(missing?.name == "UNKNOWN_TOPIC_OR_PARTITION")
                let large = await #expect(throws: KafkaError.self) {
                    try await producer.send(
                        KafkaProducerRecord(topic: "small", value: ByteBuffer(repeating: 0, count: 4096))
                    )
                }
                #expect(large?.name == "RECORD_TOO_LARGE")
                let badPartition = await #expect(throws: KafkaError.self) {
                    try await producer.send(
                        KafkaProducerRecord(topic: "small", partition: 5, value: ByteBuffer(string: "x")))
                }
                #expect(badPartition?.name == "UNKNOWN_TOPIC_OR_PARTITION")
            }
            await cluster.shutdown()
        }
    }
}

/// Counts delivery reports from callbacks on I/O threads.
final class OutcomeCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var deliveredCount = 0
    private var failedCount = 0

    func record(_ result: Result<KafkaRecordMetadata, KafkaError>) {
        lock.withLock {
            switch result {
            case .success: deliveredCount += 1
            case .failure: failedCount += 1
            }
        }
    }

    var delivered: Int { lock.withLock { deliveredCount } }
    var failed: Int { lock.withLock { failedCount } }
}
