import KafkaTestSupport
import KafkaWire
import NIOCore
import Testing

@testable import KafkaClient

/// Connections against a real broker: version negotiation, every supported version of the everyday APIs, SASL
/// refusals, and a broker that is not there.
@Suite(.serialized) struct ConnectionBrokerTests {
    @Test func negotiatesVersionsAndSpeaksEveryVersionOfMetadataProduceAndFetch() async throws {
        try await withTansuBroker { broker in
            let cluster = try makeCluster(broker)
            try await cluster.createTopics([("versions", 1)])
            let connection = try await cluster.anyConnection()
            #expect(try connection.version(for: KafkaMetadataRequest.self) == 12)
            let topicID = try await cluster.metadata(for: "versions").topicID
            // Metadata: every version this client and the broker share; version 0 has no null "all topics".
            for version in Int16(0)...12 {
                let response = try await connection.send(
                    KafkaMetadataRequest(topics: [.init(topicId: .zero, name: "versions")]),
                    version: version
                )
                #expect(response.topics.first?.name == "versions", "Metadata v\(version)")
                #expect(response.brokers.count == 1, "Metadata v\(version)")
            }
            // Produce v3 (the first to carry record batches v2) to v11, one record each; then Fetch v4 to v17
            // reads them all back.
            var expected: [String] = []
            for version in Int16(3)...11 {
                var batch = ByteBuffer()
                try KafkaRecordBatch.encode(
                    records: [KafkaRecord(timestamp: 1_700_000_000_000, value: ByteBuffer(string: "v\(version)"))],
                    into: &batch
                )
                let response = try await connection.send(
                    KafkaProduceRequest(
                        acks: 1,
                        timeoutMs: 5000,
                        topicData: [.init(name: "versions", partitionData: [.init(index: 0, records: batch)])]
                    ),
                    version: version
                )
                let partition = try #require(response.responses.first?.partitionResponses.first)
                #expect(partition.errorCode == 0, "Produce v\(version)")
                #expect(partition.baseOffset == Int64(version - 3), "Produce v\(version)")
                expected.append("v\(version)")
            }
            for version in Int16(4)...17 {
                let response = try await connection.send(
                    KafkaFetchRequest(
                        replicaId: -1,
                        maxWaitMs: 100,
                        minBytes: 1,
                        maxBytes: 1 << 20,
                        topics: [
                            .init(
                                topic: "versions",
                                topicId: topicID,
                                partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)]
                            )
                        ]
                    ),
                    version: version
                )
                let partition = try #require(response.responses.first?.partitions.first, "Fetch v\(version)")
                #expect(partition.errorCode == 0, "Fetch v\(version)")
                let batches = try KafkaRecordBatchDecoder.decode(partition.records ?? ByteBuffer())
                let values = batches.flatMap(\.records).map { String(buffer: $0.value ?? ByteBuffer()) }
                #expect(values == expected, "Fetch v\(version)")
            }
            await cluster.shutdown()
        }
    }

    @Test func scramWithUnknownCredentialsIsRefusedWithTheBrokersReason() async throws {
        try await withTansuBroker(authentication: true) { broker in
            let cluster = try makeCluster(broker) {
                $0.sasl = .init(mechanism: .scramSHA256, username: "alice", password: "wrong")
            }
            let error = await #expect(throws: KafkaError.self) { try await cluster.anyConnection() }
            #expect(error?.code == .authenticationFailed)
            #expect(error?.isRetriable == false)
            await cluster.shutdown()
        }
    }

    @Test func anAbsentBrokerIsAConnectionFailureThatCanBeRetried() async throws {
        let port = try freeLoopbackPort()
        var configuration = try KafkaClientConfiguration(bootstrapServers: "127.0.0.1:\(port)")
        configuration.timeouts.connect = .seconds(2)
        let cluster = try KafkaCluster(configuration: configuration)
        let error = await #expect(throws: KafkaError.self) { try await cluster.metadata(for: "anything") }
        #expect(error?.code == .connectionFailed)
        #expect(error?.isRetriable == true)
        await cluster.shutdown()
    }

    /// A request written after the connection closed never reaches the handler that answers requests (NIO removes
    /// a closed channel's handlers), so the write's own failure must fail it: it may not wait for an answer that
    /// cannot come. The wait here is bounded so that a request left waiting fails the test instead of hanging it.
    @Test func aRequestWrittenAfterTheConnectionClosedFailsAtOnce() async throws {
        try await withTansuBroker { broker in
            let cluster = try makeCluster(broker)
            let connection = try await cluster.anyConnection()
            connection.close()
            try await connection.channel.closeFuture.get()
            let loop = connection.eventLoop
            let outcome = loop.makePromise(of: String.self)
            let answer = try connection.sendNow(KafkaMetadataRequest(topics: []))
            answer.whenComplete { result in
                switch result {
                case .success: outcome.succeed("answered")
                case .failure(let error):
                    let code = (error as? KafkaError).map { "\($0.code)" } ?? "\(error)"
                    outcome.succeed("failed: \(code)")
                }
            }
            let limit = loop.scheduleTask(in: .seconds(10)) { outcome.succeed("still waiting after 10 s") }
            let result = try await outcome.futureResult.get()
            limit.cancel()
            #expect(result == "failed: \(KafkaError.Code.connectionFailed)")
            await cluster.shutdown()
        }
    }

    @Test func badBootstrapServersAreRefusedWhenConfigured() {
        #expect(throws: KafkaError.self) { try KafkaClientConfiguration(bootstrapServers: "localhost") }
        #expect(throws: KafkaError.self) { try KafkaClientConfiguration(bootstrapServers: " , ") }
        #expect(throws: KafkaError.self) { try KafkaClientConfiguration(bootstrapServers: "host:99999") }
        #expect((try? KafkaClientConfiguration(bootstrapServers: "a:1,[::1]:9092"))?.bootstrapServers.count == 2)
    }
}
