import Foundation
import KafkaClient
import KafkaTestSupport
import KafkaWire
import NIOCore
import Testing

/// The consumer against a real broker (tansu), reading what librdkafka wrote.
@Suite(.serialized) struct ConsumerBrokerTests {
    let oracle = LibrdkafkaOracle()

    @Test(arguments: ["none", "gzip", "snappy", "lz4", "zstd"])
    func readsWhatLibrdkafkaWroteWithEachCodec(codec: String) async throws {
        try await withTansuBroker { broker in
            _ = try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "from-librdkafka", partitions: 3)
            let sent = (0..<300).map { index in
                OracleRecord(
                    key: index % 10 == 0 ? nil : "key-\(index)",
                    value: index % 25 == 0 ? nil : String(repeating: "v\(index)", count: 10),
                    headers: [OracleHeader("trace", "t-\(index)"), OracleHeader("empty", nil as [UInt8]?)],
                    timestamp: 1_700_000_000_000 + Int64(index),
                    partition: index % 3
                )
            }
            let delivered = try await oracle.produce(
                bootstrap: broker.bootstrap, topic: "from-librdkafka", records: sent, compression: codec
            )
            let cluster = try makeCluster(broker)
            let consumer = KafkaConsumer(cluster: cluster)
            consumer.assign(
                Dictionary(
                    uniqueKeysWithValues: (0..<3).map {
                        (KafkaTopicPartition(topic: "from-librdkafka", partition: Int32($0)), KafkaOffsetSpec.earliest)
                    }
                )
            )
            let received = try await whileRunning(nil, [consumer]) { try await collect(300, from: consumer) }
            #expect(received.count == 300)
            var byPartitionOffset: [String: KafkaConsumerRecord] = [:]
            for record in received { byPartitionOffset["\(record.partition)/\(record.offset)"] = record }
            for (record, delivery) in zip(sent, delivered) {
                let got = try #require(byPartitionOffset["\(delivery.partition)/\(delivery.offset ?? -1)"])
                #expect(got.key.bytes == record.key)
                #expect(got.value.bytes == record.value)
                #expect(got.timestamp == record.timestamp)
                #expect(got.headers.map { OracleHeader($0.key, $0.value.bytes) } == record.headers)
            }
            // Offsets arrive in order within each partition.
            for partition in 0..<3 {
                let offsets = received.filter { $0.partition == Int32(partition) }.map(\.offset)
                #expect(offsets == offsets.sorted())
            }
            await cluster.shutdown()
        }
    }

    @Test func startsAtAnExactOffsetOrAtTheEnd() async throws {
        try await withTansuBroker { broker in
            let cluster = try makeCluster(broker)
            try await cluster.createTopics([("positions", 1)])
            let producer = try KafkaProducer(cluster: cluster)
            let partition = KafkaTopicPartition(topic: "positions", partition: 0)
            try await whileRunning(producer) {
                // One record per batch: tansu answers ListOffsets latest with the newest batch's base offset + 1.
                for index in 0..<10 {
                    _ = try await producer.send(
                        KafkaProducerRecord(topic: "positions", value: ByteBuffer(string: "\(index)")))
                }
                let fromSeven = KafkaConsumer(cluster: cluster)
                fromSeven.assign([partition: .exact(7)])
                let tail = try await whileRunning(nil, [fromSeven]) { try await collect(3, from: fromSeven) }
                #expect(tail.map(\.offset) == [7, 8, 9])

                let fromEnd = KafkaConsumer(cluster: cluster)
                fromEnd.assign([partition: .latest])
                let fresh = try await whileRunning(nil, [fromEnd]) {
                    // Wait for the end offset to be looked up before producing more.
                    try await Task.sleep(for: .milliseconds(500))
                    for index in 10..<13 {
                        _ = try await producer.send(
                            KafkaProducerRecord(topic: "positions", value: ByteBuffer(string: "\(index)")))
                    }
                    return try await collect(3, from: fromEnd)
                }
                #expect(fresh.map(\.offset) == [10, 11, 12])
            }
            await cluster.shutdown()
        }
    }

    @Test func startsAtATimestamp() async throws {
        try await withTansuBroker { broker in
            let cluster = try makeCluster(broker)
            try await cluster.createTopics([("timed", 1)])
            let producer = try KafkaProducer(cluster: cluster)
            let partition = KafkaTopicPartition(topic: "timed", partition: 0)
            try await whileRunning(producer) {
                for index in 0..<5 {
                    _ = try await producer.send(
                        KafkaProducerRecord(topic: "timed", value: ByteBuffer(string: "early \(index)")))
                }
                try await Task.sleep(for: .milliseconds(300))
                // tansu compares with the time a batch was stored, Kafka with record timestamps; records produced
                // now carry now as their timestamp, so both put the start at the first later record.
                let cut = Int64(Date().timeIntervalSince1970 * 1000)
                try await Task.sleep(for: .milliseconds(300))
                for index in 0..<5 {
                    _ = try await producer.send(
                        KafkaProducerRecord(topic: "timed", value: ByteBuffer(string: "late \(index)")))
                }
                let consumer = KafkaConsumer(cluster: cluster)
                consumer.assign([partition: .timestamp(cut)])
                let records = try await whileRunning(nil, [consumer]) { try await collect(5, from: consumer) }
                #expect(records.map(\.offset) == Array(5..<10))
                #expect(records.allSatisfy { String(buffer: $0.value!).hasPrefix("late") })
            }
            await cluster.shutdown()
        }
    }

    @Test func asynchronousCommitIsStoredWhereLibrdkafkaSeesIt() async throws {
        try await withTansuBroker { broker in
            _ = try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "committed", partitions: 1)
            let sent = (0..<10).map { OracleRecord(key: nil, value: "\($0)") }
            _ = try await oracle.produce(bootstrap: broker.bootstrap, topic: "committed", records: sent)
            let cluster = try makeCluster(broker)
            var configuration = KafkaConsumerConfiguration()
            configuration.autoOffsetReset = .earliest
            var group = KafkaConsumerGroupConfiguration(groupID: "committers")
            group.autoCommitInterval = nil
            configuration.group = group
            let consumer = KafkaConsumer(cluster: cluster, configuration: configuration)
            try consumer.subscribe(topics: ["committed"])
            let partition = KafkaTopicPartition(topic: "committed", partition: 0)
            let committed = try await whileRunning(nil, [consumer]) {
                _ = try await collect(10, from: consumer, timeout: .seconds(60))
                let result = await withCheckedContinuation { continuation in
                    consumer.commitAsync { continuation.resume(returning: $0) }
                }
                try result.get()
                return try await consumer.committedOffsets(for: [partition])
            }
            #expect(committed == [partition: 10])
            let seenByLibrdkafka = try await oracle.committed(
                bootstrap: broker.bootstrap, group: "committers", topic: "committed")
            #expect(seenByLibrdkafka[0] == 10)
            await cluster.shutdown()
        }
    }

    @Test func smallBufferStillDeliversEverythingInOrderAndPauseHoldsAPartitionBack() async throws {
        try await withTansuBroker { broker in
            _ = try await oracle.createTopic(bootstrap: broker.bootstrap, topic: "slow", partitions: 2)
            let sent = (0..<400).map {
                OracleRecord(key: nil, value: String(repeating: "x", count: 900) + "\($0)", partition: $0 % 2)
            }
            _ = try await oracle.produce(bootstrap: broker.bootstrap, topic: "slow", records: sent)
            let cluster = try makeCluster(broker)
            var configuration = KafkaConsumerConfiguration()
            configuration.bufferBytes = 8 * 1024
            configuration.maxPartitionFetchBytes = 4 * 1024
            let consumer = KafkaConsumer(cluster: cluster, configuration: configuration)
            let zero = KafkaTopicPartition(topic: "slow", partition: 0)
            let one = KafkaTopicPartition(topic: "slow", partition: 1)
            consumer.assign([zero: .earliest, one: .earliest])
            consumer.pause([one])
            try await whileRunning(nil, [consumer]) {
                let first = try await collect(200, from: consumer)
                #expect(first.allSatisfy { $0.partition == 0 })
                #expect(first.map(\.offset) == Array(0..<200))
                consumer.resume([one])
                let second = try await collect(200, from: consumer)
                #expect(second.map(\.offset) == Array(0..<200))
                #expect(second.allSatisfy { $0.partition == 1 })
                #expect(consumer.consumedPositions == [zero: 200, one: 200])
            }
            await cluster.shutdown()
        }
    }
}
