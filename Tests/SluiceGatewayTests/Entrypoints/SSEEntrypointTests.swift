import Foundation
import SluiceCore
import Testing

@Suite("sse entrypoint")
struct SSEEntrypointTests {
    @Test("the stream starts with retry, then events with id, event and data; headers and metadata as comments")
    func eventFormat() async throws {
        try await withGateway(["mock.json": Definitions.mock(interval: 20, count: 3)]) {
            (gateway: TestGateway) async throws in
            try await within(.seconds(20)) {
                let reader = try await SSEReader.open("\(gateway.baseURL)/mock")
                #expect(reader.status == 200)
                #expect(
                    reader.headers.first { $0.0.lowercased() == "content-type" }?.1 == "text/event-stream;charset=UTF-8"
                )
                #expect(reader.headers.first { $0.0.lowercased() == "cache-control" }?.1 == "no-cache")
                let retry = try await reader.next()
                #expect(retry?.retry.map { (1000..<30_000).contains($0) } == true)
                #expect(retry?.id == nil && retry?.data == nil)
                for expected in 0..<3 {
                    let event = try #require(try await reader.nextMessage())
                    #expect(event.id == String(expected))
                    #expect(event.data == "mock message")
                    #expect(event.comments.contains("X-Mock: yes"))
                    #expect(event.comments.contains("kind: test"))
                    #expect(event.comments.contains { $0.hasPrefix("sourceTimestamp: ") })
                }
                // messageCount reached: the stream ends.
                #expect(try await reader.next() == nil)
            }
        }
    }

    @Test("multi-line content arrives whole, one data line per line")
    func multiLine() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            try await within(.seconds(20)) {
                _ = try await httpCall(
                    .POST, "\(gateway.baseURL)/events", headers: [("X-Trace", "abc")], body: "first\nsecond\r\nthird"
                )
                let reader = try await SSEReader.open("\(gateway.baseURL)/events", headers: [("Last-Event-ID", "-1")])
                let event = try #require(try await reader.nextMessage())
                #expect(event.data == "first\nsecond\nthird")
                #expect(event.id == "0")
                // The message's headers (copied from the POST) come back as comments.
                #expect(event.comments.contains("X-Trace: abc"), "\(event.comments)")
            }
        }
    }

    @Test("a message published while subscribed reaches every subscriber")
    func fanOut() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            try await within(.seconds(20)) {
                var readers: [SSEReader] = []
                for _ in 0..<5 {
                    let reader = try await SSEReader.open("\(gateway.baseURL)/events")
                    _ = try await reader.next()  // retry
                    readers.append(reader)
                }
                _ = try await httpCall(.POST, "\(gateway.baseURL)/events", body: "to everyone")
                for reader in readers {
                    let event = try #require(try await reader.nextMessage())
                    #expect(event.data == "to everyone")
                }
            }
        }
    }

    @Test("Last-Event-ID resumes right after that id, on the in-memory log and on the mock")
    func resume() async throws {
        try await withGateway(["events.json": Definitions.inMemory(), "mock.json": Definitions.mock(interval: 5)]) {
            (gateway: TestGateway) async throws in
            try await within(.seconds(20)) {
                for index in 0..<6 { _ = try await httpCall(.POST, "\(gateway.baseURL)/events", body: "m\(index)") }
                let reader = try await SSEReader.open("\(gateway.baseURL)/events", headers: [("Last-Event-ID", "3")])
                #expect(try await reader.nextMessage()?.data == "m4")
                #expect(try await reader.nextMessage()?.data == "m5")

                let mock = try await SSEReader.open("\(gateway.baseURL)/mock", headers: [("Last-Event-ID", "41")])
                #expect(try await mock.nextMessage()?.id == "42")
                #expect(try await mock.nextMessage()?.id == "43")
            }
        }
    }

    @Test("an idle stream gets heartbeat comments")
    func heartbeat() async throws {
        let definition = Definitions.inMemory(
            entrypoints: #"[{ "type": "sse", "configuration": { "heartbeatIntervalInMs": 200 } }]"#)
        try await withGateway(["events.json": definition]) { (gateway: TestGateway) async throws in
            try await within(.seconds(20)) {
                let reader = try await SSEReader.open("\(gateway.baseURL)/events")
                _ = try await reader.next()  // retry
                let heartbeat = try #require(try await reader.next())
                #expect(heartbeat.comments == [""])
                #expect(heartbeat.event == nil && heartbeat.data == nil)
            }
        }
    }

    @Test("a malformed Last-Event-ID gives 400 before the stream starts")
    func badLastEventID() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            let response = try await httpCall(
                .GET, "\(gateway.baseURL)/events",
                headers: [("Accept", "text/event-stream"), ("Last-Event-ID", "not-an-offset")])
            #expect(response.status == 400)
            #expect(response.json?["key"]?.stringValue == "INVALID_CURSOR")
        }
    }

    @Test("streaming connections beyond the limit get 503 with a key")
    func connectionLimit() async throws {
        try await withGateway(
            ["events.json": Definitions.inMemory()], configure: { $0.limits.maxStreamingConnections = 2 }
        ) { (gateway: TestGateway) async throws in
            try await within(.seconds(20)) {
                let first = try await SSEReader.open("\(gateway.baseURL)/events")
                let second = try await SSEReader.open("\(gateway.baseURL)/events")
                _ = try await first.next()
                _ = try await second.next()
                let third = try await httpCall(
                    .GET, "\(gateway.baseURL)/events", headers: [("Accept", "text/event-stream")])
                #expect(third.status == 503)
                #expect(third.json?["key"]?.stringValue == "GATEWAY_CONNECTION_LIMIT_REACHED")
            }
        }
    }
}
