import Foundation
import KafkaClient
import KafkaTestSupport
import Logging
import NIOCore
import SluiceCore
import SluiceEndpoints
import Testing

/// Streams at the newest records whose identifier the gateway made up share one reader per topic list (the
/// endpoint's tail) instead of a consumer group each. Driven on the endpoint directly; librdkafka produces and
/// checks the group side.
@Suite("kafka endpoint: streams sharing the tail", .serialized)
struct KafkaSharedTailTests {
    let oracle = LibrdkafkaOracle()

    func endpoint(_ bootstrap: String, topic: String) throws -> KafkaEndpoint {
        var configuration = KafkaEndpointConfiguration(bootstrapServers: [try #require(.init(bootstrap))])
        configuration.consumer.enabled = true
        configuration.consumer.topics = [topic]
        configuration.consumer.autoOffsetReset = .latest
        return KafkaEndpoint(configuration: configuration, logger: Logger(label: "shared-tail"))
    }

    static func read(_ source: any MessageSource, count: Int) async throws -> [Message] {
        var messages: [Message] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while messages.count < count, ContinuousClock.now < deadline {
            if case .messages(let batch) = try await source.next(maxCount: count - messages.count, until: deadline) {
                messages += batch
            }
        }
        return messages
    }

    @Test(
        "five streams with made-up identifiers each get every record produced after they started, with the same ids, and join no group; a cursor from them resumes exactly"
    )
    func sharing() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("shared")
            _ = try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 2)
            let endpoint = try endpoint(broker.bootstrap, topic: topic)
            // Before any stream: not delivered to anyone (they start at the newest record).
            _ = try await oracle.produce(
                bootstrap: broker.bootstrap, topic: topic, records: [OracleRecord(key: "early", value: "early")])
            var sources: [any MessageSource] = []
            for index in 0..<5 {
                sources.append(
                    try await endpoint.subscribe(
                        SubscriptionRequest(
                            clientIdentifier: "made-up-\(index)", clientIdentifierIsGenerated: true, qos: .none,
                            mode: .stream)))
            }
            let records = (0..<10).map { OracleRecord(key: "key-\($0)", value: "value \($0)") }
            _ = try await oracle.produce(bootstrap: broker.bootstrap, topic: topic, records: records)
            var seen: [[Message]] = []
            for source in sources { seen.append(try await Self.read(source, count: 10)) }
            let first = seen[0]
            #expect(Set(first.map { String(buffer: $0.content) }) == Set((0..<10).map { "value \($0)" }))
            for other in seen.dropFirst() {
                #expect(other.map(\.id) == first.map(\.id))
                #expect(other.map { String(buffer: $0.content) } == first.map { String(buffer: $0.content) })
            }
            // No consumer group was joined for the made-up identifiers.
            let group = try await oracle.describeGroup(bootstrap: broker.bootstrap, group: "made-up-0")
            #expect(group.members.isEmpty, "\(group)")

            // The fifth message's id resumes after it: a new stream with that cursor gets the other five.
            let resumed = try await endpoint.subscribe(
                SubscriptionRequest(
                    resumeAfter: first[4].id, clientIdentifier: "made-up-0", clientIdentifierIsGenerated: true,
                    qos: .auto, mode: .stream))
            let rest = try await Self.read(resumed, count: 5)
            #expect(
                Set(rest.map { String(buffer: $0.content) }) == Set(first[5...].map { String(buffer: $0.content) }))
            resumed.close()
            for source in sources { source.close() }
            await endpoint.stop()
        }
    }

    @Test("with auto, what was written to the client is committed for its identifier when the stream ends")
    func autoCommits() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("shared-auto")
            _ = try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            let endpoint = try endpoint(broker.bootstrap, topic: topic)
            let source = try await endpoint.subscribe(
                SubscriptionRequest(
                    clientIdentifier: "made-up-auto", clientIdentifierIsGenerated: true, qos: .auto, mode: .stream))
            _ = try await oracle.produce(
                bootstrap: broker.bootstrap, topic: topic,
                records: (0..<4).map { OracleRecord(key: nil, value: "value \($0)") })
            let messages = try await Self.read(source, count: 4)
            #expect(messages.count == 4)
            await source.delivered()
            source.close()
            let last = try KafkaCursor(parsing: try #require(messages.last?.id))
            let expected = try #require(last.lastOffsets.first?.value)
            var committed: [Int: Int64?] = [:]
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                committed = try await oracle.committed(
                    bootstrap: broker.bootstrap, group: "made-up-auto", topic: topic)
                if committed[0] == .some(expected + 1) { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(committed[0] == .some(expected + 1), "the next offset after the last delivered record")
            await endpoint.stop()
        }
    }

    @Test("a stream that falls behind what the tail keeps continues exactly where it stands, on its own consumer")
    func fallingBehind() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("shared-behind")
            _ = try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            let endpoint = try endpoint(broker.bootstrap, topic: topic)
            let slow = try await endpoint.subscribe(
                SubscriptionRequest(
                    clientIdentifier: "made-up-slow", clientIdentifierIsGenerated: true, qos: .none, mode: .stream))
            // A second reader keeps the tail reading while the slow one waits.
            let fast = try await endpoint.subscribe(
                SubscriptionRequest(
                    clientIdentifier: "made-up-fast", clientIdentifierIsGenerated: true, qos: .none, mode: .stream))
            let total = 12_000
            let batch = (0..<total).map { OracleRecord(key: nil, value: "v\($0)") }
            _ = try await oracle.produce(bootstrap: broker.bootstrap, topic: topic, records: batch)
            let fastSeen = try await Self.read(fast, count: total)
            #expect(fastSeen.count == total)
            // The tail keeps 10,000: the slow reader, still at the first record, is behind it now.
            let slowSeen = try await Self.read(slow, count: total)
            #expect(slowSeen.count == total)
            #expect(slowSeen.map { $0.metadata["offset"] } == (0..<total).map { String($0) })
            slow.close()
            fast.close()
            await endpoint.stop()
        }
    }
}
