import Foundation
import GatewayTestSupport
import KafkaClient
import KafkaTestSupport
import SluiceEndpoints
import Testing

/// SSE streams from a real broker: records librdkafka produced, resume from Last-Event-ID on a fresh node, and
/// consumer groups per client identifier.
@Suite("kafka endpoint: streaming over SSE", .serialized)
struct KafkaStreamTests {
    let oracle = LibrdkafkaOracle()

    static func api(_ broker: TansuBroker, topic: String, qos: String, reset: String = "earliest") -> String {
        KafkaAPI.definition(
            id: "stream", path: "/stream", bootstrap: broker.bootstrap,
            entrypoints: """
                [\(KafkaAPI.entrypoint("sse", qos: qos, configuration: #"{ "heartbeatIntervalInMs": 1000, "headersAsComment": true, "metadataAsComment": true }"#))]
                """,
            shared: "{ \(KafkaAPI.consumer(topic, reset: reset)) }")
    }

    @Test(
        "sse × none, auto, at-most-once, at-least-once: records with ids, headers and metadata; Last-Event-ID resumes exactly on a fresh node (ignored with none)",
        arguments: ["none", "auto", "at-most-once", "at-least-once"])
    func streamAndResume(qos: String) async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("sse")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 2)
            _ = try await oracle.produce(
                bootstrap: broker.bootstrap, topic: topic,
                records: (0..<4).map {
                    OracleRecord(
                        key: "k\($0)", value: "m\($0)", headers: [OracleHeader("h", "v\($0)")], partition: $0 % 2)
                })
            let definition = Self.api(broker, topic: topic, qos: qos)
            let lastID: String = try await withKafkaGateway(["stream.json": definition]) { gateway in
                let stream = try await RawSSEClient.open(
                    port: gateway.port, path: "/stream", headers: [("X-Gravitee-Client-Identifier", "reader-\(qos)")])
                #expect(stream.status == 200)
                #expect(stream.header("X-Gravitee-Client-Identifier") == "reader-\(qos)")
                let events = try await within(.seconds(30), "four messages") { try await stream.messages(4) }
                #expect(Set(events.compactMap(\.data)) == ["m0", "m1", "m2", "m3"])
                for event in events {
                    let index = Int(event.data!.dropFirst())!
                    #expect(event.comments.contains("h: v\(index)"))
                    #expect(event.comments.contains("key: k\(index)"))
                    #expect(event.comments.contains("topic: \(topic)"))
                    #expect(event.comments.contains("partition: \(index % 2)"))
                    let id = try KafkaCursor(parsing: try #require(event.id))
                    #expect(id.lastOffsets.keys.map(\.topic).allSatisfy { $0 == topic })
                }
                await stream.close()
                return try #require(events.last?.id)
            }

            _ = try await oracle.produce(
                bootstrap: broker.bootstrap, topic: topic,
                records: [
                    OracleRecord(key: nil, value: "m4", partition: 0),
                    OracleRecord(key: nil, value: "m5", partition: 1),
                ])
            // A fresh gateway, and a client identifier the group never saw: only the cursor says where to resume.
            try await withKafkaGateway(["stream.json": definition]) { gateway in
                let stream = try await RawSSEClient.open(
                    port: gateway.port, path: "/stream",
                    headers: [("Last-Event-ID", lastID), ("X-Gravitee-Client-Identifier", "other-\(qos)")])
                if qos == "none" {
                    // none ignores Last-Event-ID: a new group starts where autoOffsetReset says.
                    let events = try await within(.seconds(30), "six messages") { try await stream.messages(6) }
                    #expect(Set(events.compactMap(\.data)) == Set((0..<6).map { "m\($0)" }))
                } else {
                    let events = try await within(.seconds(30), "two messages") { try await stream.messages(2) }
                    #expect(Set(events.compactMap(\.data)) == ["m4", "m5"], "exactly what came after the last id")
                    // Nothing else follows: the next block is a heartbeat.
                    let next = try await within(.seconds(10), "a heartbeat") { try await stream.next() }
                    #expect(next?.event == nil && next?.data == nil)
                }
                await stream.close()
            }
        }
    }

    @Test(
        "with at-least-once and at-most-once the group's offsets follow what was delivered",
        arguments: ["at-most-once", "at-least-once"])
    func commitsFollowDelivery(qos: String) async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("sse-commit")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            _ = try await oracle.produce(
                bootstrap: broker.bootstrap, topic: topic,
                records: (0..<3).map { OracleRecord(key: nil, value: "m\($0)") })
            try await withKafkaGateway(["stream.json": Self.api(broker, topic: topic, qos: qos)]) { gateway in
                let stream = try await RawSSEClient.open(
                    port: gateway.port, path: "/stream", headers: [("X-Gravitee-Client-Identifier", "committer")])
                _ = try await within(.seconds(30), "three messages") { try await stream.messages(3) }
                let committed = try await eventually {
                    let offsets = try await oracle.committed(
                        bootstrap: broker.bootstrap, group: "committer", topic: topic)
                    return offsets[0] == 3 ? offsets : nil
                }
                #expect(committed[0] == 3)
                await stream.close()
            }
        }
    }

    @Test(
        "two streams with one client identifier share the partitions, another identifier sees everything, and a client that leaves hands its partitions over at once"
    )
    func consumerGroups() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("sse-group")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 4)
            try await withKafkaGateway(["stream.json": Self.api(broker, topic: topic, qos: "auto")]) { gateway in
                let first = try await RawSSEClient.open(
                    port: gateway.port, path: "/stream", headers: [("X-Gravitee-Client-Identifier", "shared")])
                let second = try await RawSSEClient.open(
                    port: gateway.port, path: "/stream?X-Gravitee-Client-Identifier=shared")
                let solo = try await RawSSEClient.open(
                    port: gateway.port, path: "/stream", headers: [("X-Gravitee-Client-Identifier", "solo")])
                #expect(second.header("X-Gravitee-Client-Identifier") == "shared", "the query parameter works too")
                // Let the group settle (tansu completes a join with two members about 4 s after the second joins).
                try await Task.sleep(for: .seconds(9))
                _ = try await oracle.produce(
                    bootstrap: broker.bootstrap, topic: topic,
                    records: (0..<16).map { OracleRecord(key: nil, value: "m\($0)", partition: $0 % 4) })

                let soloEvents = try await within(.seconds(30), "solo's messages") { try await solo.messages(16) }
                #expect(Set(soloEvents.compactMap(\.data)).count == 16)
                let (firstEvents, secondEvents) = try await Self.split(16, first, second)
                let firstSet = Set(firstEvents.compactMap(\.data))
                let secondSet = Set(secondEvents.compactMap(\.data))
                #expect(firstSet.isDisjoint(with: secondSet), "one identifier: each message to one of its streams")
                #expect(firstSet.union(secondSet).count == 16)
                #expect(!firstSet.isEmpty && !secondSet.isEmpty, "both members own partitions")

                // The first client leaves: its consumer leaves the group at once, so the second gets every partition
                // after one rebalance, well before the 10 s session timeout would have expired the member.
                await first.close()
                let left = ContinuousClock.now
                _ = try await oracle.produce(
                    bootstrap: broker.bootstrap, topic: topic,
                    records: (16..<24).map { OracleRecord(key: nil, value: "m\($0)", partition: $0 % 4) })
                let rest = try await eventually(timeout: .seconds(30), interval: .milliseconds(50)) {
                    let all = second.receivedMessages.compactMap(\.data)
                    return all.count >= secondEvents.count + 8 ? Array(all.dropFirst(secondEvents.count)) : nil
                }
                let handOver = ContinuousClock.now - left
                #expect(Set(rest) == Set((16..<24).map { "m\($0)" }))
                #expect(handOver < .seconds(9), "partitions handed over after \(handOver)")
                await second.close()
                await solo.close()
            }
        }
    }

    /// The messages two streams received, once they have `count` between them.
    static func split(
        _ count: Int, _ first: RawSSEClient, _ second: RawSSEClient
    ) async throws -> ([ServerSentEvent], [ServerSentEvent]) {
        try await eventually(timeout: .seconds(30)) {
            let received = (first.receivedMessages, second.receivedMessages)
            return received.0.count + received.1.count >= count ? received : nil
        }
    }
}
