import Foundation
import GatewayTestSupport
import KafkaTestSupport
import SluiceEntrypoints
import Testing

/// SSE subscribers of a real broker whose identifier the gateway made up: they read the endpoint's shared tail,
/// served by their connection's event loop.
@Suite("kafka endpoint: SSE subscribers of the shared tail", .serialized)
struct KafkaSSESharedTailTests {
    let oracle = LibrdkafkaOracle()

    @Test(
        "sse subscribers with made-up identifiers share the tail from the event loop: each gets every record in order with the same cursor ids, and a Last-Event-ID from them resumes exactly"
    )
    func sharedTail() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("sse-tail")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            let api = KafkaAPI.definition(
                id: "sse", path: "/sse", bootstrap: broker.bootstrap,
                entrypoints: "[\(KafkaAPI.entrypoint("sse", qos: "auto"))]",
                shared: "{ \(KafkaAPI.consumer(topic, reset: "latest")) }")
            // Multi-line content arrives whole; one record is large.
            let count = 300
            let values: [String] = (0..<count).map { index in
                if index % 7 == 3 { return "record \(index)\nsecond line" }
                return "record \(index)" + (index == 11 ? String(repeating: "x", count: 70_000) : "")
            }
            let subscribers = 20
            try await withKafkaGateway(["sse.json": api]) { gateway in
                let port = gateway.port
                let bootstrap = broker.bootstrap
                let oracle = oracle
                let received = try await within(.seconds(120), "the sse streams") {
                    try await withThrowingTaskGroup(of: [ServerSentEvent]?.self) { group in
                        for _ in 0..<subscribers {
                            group.addTask {
                                // No identifier: the gateway makes one up, and the stream reads the shared tail.
                                let stream = try await RawSSEClient.open(port: port, path: "/sse")
                                let events = try await stream.messages(count, timeout: .seconds(90))
                                await stream.close()
                                return events
                            }
                        }
                        group.addTask {
                            _ = try await eventually(timeout: .seconds(60)) {
                                SSEEntrypoint.ringStreamsActive >= subscribers ? true : nil
                            }
                            _ = try await oracle.produce(
                                bootstrap: bootstrap, topic: topic,
                                records: values.map { OracleRecord(key: nil, value: Array($0.utf8)) })
                            return nil
                        }
                        var all: [[ServerSentEvent]] = []
                        for try await events in group { if let events { all.append(events) } }
                        return all
                    }
                }
                #expect(received.count == subscribers)
                let ids = received.first?.map(\.id) ?? []
                #expect(Set(ids.compactMap { $0 }).count == count, "every record has an id of its own")
                for events in received {
                    #expect(events.map(\.data) == values)
                    #expect(events.map(\.id) == ids)
                }
                _ = try await eventually(timeout: .seconds(10)) { SSEEntrypoint.ringStreamsActive == 0 ? true : nil }

                // An id received from the event loop is a cursor: a client with its own identifier resumes right
                // after it.
                let resumeAt = 150
                let lastEventID = try #require(ids[resumeAt])
                let resumed = try await RawSSEClient.open(
                    port: port, path: "/sse",
                    headers: [("X-Gravitee-Client-Identifier", "sse-resume"), ("Last-Event-ID", lastEventID)])
                let rest = try await resumed.messages(count - resumeAt - 1, timeout: .seconds(60))
                #expect(rest.map(\.data) == Array(values[(resumeAt + 1)...]))
                #expect(rest.map(\.id) == Array(ids[(resumeAt + 1)...]))
                await resumed.close()
            }
        }
    }

    @Test("the shared tail failing (broker gone) ends its sse subscribers with an error event naming Kafka")
    func sharedTailFailure() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("sse-tail-failure")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            let api = KafkaAPI.definition(
                id: "sse", path: "/sse", bootstrap: broker.bootstrap,
                entrypoints: "[\(KafkaAPI.entrypoint("sse", qos: "none"))]",
                shared: "{ \(KafkaAPI.consumer(topic, reset: "latest")) }")
            let subscribers = 3
            try await withKafkaGateway(["sse.json": api]) { gateway in
                let port = gateway.port
                let bootstrap = broker.bootstrap
                let oracle = oracle
                let outcomes = try await within(.seconds(90), "the sse streams") {
                    try await withThrowingTaskGroup(of: ([ServerSentEvent], ServerSentEvent?, Bool)?.self) { group in
                        for _ in 0..<subscribers {
                            group.addTask {
                                let stream = try await RawSSEClient.open(port: port, path: "/sse")
                                let before = try await stream.messages(1, timeout: .seconds(60))
                                let error = try await stream.nextEvent(timeout: .seconds(30))
                                let ended = try await stream.nextEvent(timeout: .seconds(10)) == nil
                                return (before, error, ended)
                            }
                        }
                        group.addTask {
                            _ = try await eventually(timeout: .seconds(60)) {
                                SSEEntrypoint.ringStreamsActive >= subscribers ? true : nil
                            }
                            _ = try await oracle.produce(
                                bootstrap: bootstrap, topic: topic,
                                records: [OracleRecord(key: nil, value: Array("before".utf8))])
                            try await Task.sleep(for: .seconds(1))
                            await broker.halt()
                            return nil
                        }
                        var all: [([ServerSentEvent], ServerSentEvent?, Bool)] = []
                        for try await outcome in group { if let outcome { all.append(outcome) } }
                        return all
                    }
                }
                #expect(outcomes.count == subscribers)
                for (before, error, ended) in outcomes {
                    #expect(before.map(\.data) == ["before"])
                    #expect(error?.event == "error", "\(String(describing: error))")
                    #expect(error?.data?.contains("Kafka") == true, "\(String(describing: error))")
                    #expect(ended, "the response ends after the error")
                }
                #expect(SSEEntrypoint.ringStreamsActive == 0)
            }
        }
    }

    @Test(
        "an sse subscriber that does not read falls behind the tail without holding back the others, then continues exactly where it stands on a consumer of its own"
    )
    func sharedTailSlowSubscriber() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("sse-tail-slow")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            let api = KafkaAPI.definition(
                id: "sse", path: "/sse", bootstrap: broker.bootstrap,
                entrypoints: "[\(KafkaAPI.entrypoint("sse", qos: "none"))]",
                shared: "{ \(KafkaAPI.consumer(topic, reset: "latest")) }")
            // The tail keeps 10,000; the sockets hold a few thousand of these: the one that does not read is still
            // far behind when the ring has moved on.
            let count = 20_000
            let filler = String(repeating: "f", count: 2_000)
            try await withKafkaGateway(["sse.json": api]) { gateway in
                let slow = try await RawSSEClient.open(port: gateway.port, path: "/sse")
                try await slow.pauseReading()
                let fast = try await RawSSEClient.open(port: gateway.port, path: "/sse")
                _ = try await eventually(timeout: .seconds(60)) { SSEEntrypoint.ringStreamsActive >= 2 ? true : nil }
                let bootstrap = broker.bootstrap
                let oracle = oracle
                let producing = Task {
                    try await oracle.produce(
                        bootstrap: bootstrap, topic: topic,
                        records: (0..<count).map { OracleRecord(key: nil, value: Array("v\($0) \(filler)".utf8)) })
                }
                let fastEvents = try await fast.messages(count, timeout: .seconds(150))
                #expect(
                    fastEvents.map { String($0.data?.prefix(while: { $0 != " " }) ?? "") }
                        == (0..<count).map { "v\($0)" })
                _ = try await producing.value
                await fast.close()

                try await slow.resumeReading()
                let slowEvents = try await slow.messages(count, timeout: .seconds(150))
                #expect(
                    slowEvents.map { String($0.data?.prefix(while: { $0 != " " }) ?? "") }
                        == (0..<count).map { "v\($0)" })
                #expect(slowEvents.map(\.id) == fastEvents.map(\.id), "the same cursors on both paths")
                // It left the ring for a consumer of its own (the other one has gone).
                #expect(SSEEntrypoint.ringStreamsActive == 0)
                await slow.close()
            }
        }
    }
}
