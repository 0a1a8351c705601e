import Foundation
import GatewayTestSupport
import KafkaClient
import KafkaTestSupport
import SluiceEndpoints
import Testing

/// http-get polls against a real broker: what librdkafka produced comes back whole, and cursors resume exactly,
/// on any gateway node.
@Suite("kafka endpoint: polling over http-get", .serialized)
struct KafkaPollTests {
    let oracle = LibrdkafkaOracle()

    static func api(
        _ broker: TansuBroker, topic: String, qos: String, reset: String = "earliest", encode: Bool = true,
        duration: Int = 1000
    ) -> String {
        KafkaAPI.definition(
            id: "poll", path: "/poll", bootstrap: broker.bootstrap,
            entrypoints: """
                [\(KafkaAPI.entrypoint("http-get", qos: qos, configuration: #"{ "messagesLimitDurationMs": \#(duration), "headersInPayload": true, "metadataInPayload": true }"#))]
                """,
            shared: "{ \(KafkaAPI.consumer(topic, reset: reset, encode: encode)) }")
    }

    /// Nine records over three partitions, each with a key and a header.
    static let records = (0..<9).map { index in
        OracleRecord(
            key: "k\(index)", value: "m\(index)", headers: [OracleHeader("h", "v\(index)")], partition: index % 3)
    }

    @Test(
        "http-get × auto, at-most-once, at-least-once: content, headers, key and metadata; cursors resume on another node with no loss and no repeat",
        arguments: ["auto", "at-most-once", "at-least-once"])
    func pollAndResume(qos: String) async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("poll")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 3)
            let delivered = try await oracle.produce(bootstrap: broker.bootstrap, topic: topic, records: Self.records)
            let definition = Self.api(broker, topic: topic, qos: qos)
            var nodeA = try await KafkaTestGateway.start(definitions: ["poll.json": definition])
            let nodeB = try await KafkaTestGateway.start(definitions: ["poll.json": definition])
            do {
                var seen: [PolledMessage] = []
                var cursor: String?
                var round = 0
                while seen.count < 9 && round < 12 {
                    if round == 3 {
                        // A node goes away between polls; a fresh one takes its place.
                        await nodeA.stop()
                        nodeA = try await KafkaTestGateway.start(definitions: ["poll.json": definition])
                    }
                    let node = round % 2 == 0 ? nodeA : nodeB
                    let answer = try await poll("\(node.baseURL)/poll", cursor: cursor, limit: 2)
                    #expect(answer.status == 200, "\(answer.body)")
                    #expect(answer.items.count <= 2)
                    seen += answer.items
                    let next: String = try #require(answer.nextCursor)
                    cursor = next
                    round += 1
                }
                #expect(
                    seen.map(\.content).sorted() == (0..<9).map { "m\($0)" },
                    "no loss, no repeat: \(seen.map(\.content))")
                for item in seen {
                    let index = Int(item.content.dropFirst())!
                    #expect(item.headers["h"] == ["v\(index)"])
                    #expect(item.metadata["key"] == "k\(index)")
                    #expect(item.metadata["topic"] == topic)
                    #expect(item.metadata["partition"] == String(index % 3))
                    let offset = delivered[index].offset.map { String($0) }
                    #expect(item.metadata["offset"] == offset)
                    // The id carries every partition's position: base64 of topic@p#o,p#o,p#o.
                    let id = try KafkaCursor(parsing: try #require(item.id))
                    #expect(id.lastOffsets.count == 3)
                    #expect(
                        id.lastOffsets[KafkaTopicPartition(topic: topic, partition: Int32(index % 3))]
                            == delivered[index].offset)
                    #expect(Data(base64Encoded: item.id!) != nil)
                }

                // Nothing new: the poll waits its time out and hands the same position back.
                let empty = try await poll("\(nodeB.baseURL)/poll", cursor: cursor, limit: 5)
                #expect(empty.items.isEmpty)
                #expect(
                    try KafkaCursor(parsing: try #require(empty.nextCursor))
                        == KafkaCursor(parsing: try #require(cursor)))

                // New records come next, exactly.
                _ = try await oracle.produce(
                    bootstrap: broker.bootstrap, topic: topic,
                    records: [
                        OracleRecord(key: nil, value: "late-0", partition: 2),
                        OracleRecord(key: nil, value: "late-1", partition: 0),
                    ])
                var late: [String] = []
                for _ in 0..<4 where late.count < 2 {
                    let answer = try await poll("\(nodeA.baseURL)/poll", cursor: cursor, limit: 5)
                    late += answer.items.map(\.content)
                    cursor = answer.nextCursor ?? cursor
                }
                #expect(late.sorted() == ["late-0", "late-1"])
            } catch {
                await nodeA.stop()
                await nodeB.stop()
                throw error
            }
            await nodeA.stop()
            await nodeB.stop()
        }
    }

    @Test(
        "without a cursor, one client identifier continues from its group's commits and another starts over",
        arguments: ["auto", "at-most-once", "at-least-once"])
    func groupContinuation(qos: String) async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("poll-group")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            _ = try await oracle.produce(
                bootstrap: broker.bootstrap, topic: topic,
                records: (0..<6).map { OracleRecord(key: nil, value: "m\($0)") })
            try await withKafkaGateway(["poll.json": Self.api(broker, topic: topic, qos: qos)]) { gateway in
                let url = "\(gateway.baseURL)/poll"
                let first = try await poll(url, limit: 4, clientIdentifier: "alice")
                #expect(first.items.map(\.content) == ["m0", "m1", "m2", "m3"])
                #expect(first.clientIdentifier == "alice")
                // The group's offset is the position after the answer (committed before it, or right after).
                let committed = try await eventually {
                    let offsets = try await oracle.committed(bootstrap: broker.bootstrap, group: "alice", topic: topic)
                    return offsets[0] == 4 ? offsets : nil
                }
                #expect(committed[0] == 4)
                let second = try await poll(url, limit: 4, clientIdentifier: "alice")
                #expect(second.items.map(\.content) == ["m4", "m5"])
                let other = try await poll(url, limit: 10, clientIdentifier: "bob")
                #expect(other.items.map(\.content) == (0..<6).map { "m\($0)" })
                // A request without an identifier gets one, echoed back, and starts where autoOffsetReset says.
                let anonymous = try await poll(url, limit: 10)
                #expect(anonymous.items.count == 6)
                #expect(anonymous.clientIdentifier?.isEmpty == false)
            }
        }
    }

    @Test("with autoOffsetReset latest, an empty poll still hands out a cursor, and what comes after it is read")
    func latestStartGivesACursor() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("poll-latest")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 2)
            try await oracle.produceEach(
                bootstrap: broker.bootstrap, topic: topic,
                records: [
                    OracleRecord(key: nil, value: "old-0", partition: 0),
                    OracleRecord(key: nil, value: "old-1", partition: 1),
                ])
            try await withKafkaGateway([
                "poll.json": Self.api(broker, topic: topic, qos: "auto", reset: "latest", encode: false, duration: 300)
            ]) { gateway in
                let url = "\(gateway.baseURL)/poll"
                let empty = try await poll(url, limit: 10)
                #expect(empty.items.isEmpty)
                let cursor = try #require(empty.nextCursor)
                #expect(
                    cursor == "\(topic)@0#0,1#0", "encodeMessageId false: the plain form, at the end of each partition")
                try await oracle.produceEach(
                    bootstrap: broker.bootstrap, topic: topic,
                    records: [
                        OracleRecord(key: nil, value: "new-1", partition: 1),
                        OracleRecord(key: nil, value: "new-0", partition: 0),
                    ])
                let answer = try await poll(url, cursor: cursor, limit: 10)
                #expect(answer.items.map(\.content).sorted() == ["new-0", "new-1"])
                #expect(answer.items.allSatisfy { $0.id?.hasPrefix("\(topic)@") == true })
            }
        }
    }

    @Test("a malformed cursor, or one naming another topic, gives 400 INVALID_CURSOR")
    func invalidCursors() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("poll-cursor")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            try await withKafkaGateway(["poll.json": Self.api(broker, topic: topic, qos: "auto")]) { gateway in
                for cursor in ["garbage!", "other-topic@0#1", Data("other@0#1".utf8).base64EncodedString()] {
                    let answer = try await poll("\(gateway.baseURL)/poll", cursor: cursor)
                    #expect(answer.status == 400, "\(cursor): \(answer.body)")
                    #expect(answer.body.contains("INVALID_CURSOR"))
                }
            }
        }
    }
}
