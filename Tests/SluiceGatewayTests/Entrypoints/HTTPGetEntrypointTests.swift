import Foundation
import SluiceCore
import Testing

@Suite("http-get entrypoint")
struct HTTPGetEntrypointTests {
    @Test("a mock API answers with messagesLimitCount messages, ids from 0, and a cursor that resumes exactly")
    func mockLimitAndCursor() async throws {
        let definition = Definitions.mock(
            entrypoints: """
                [{ "type": "http-get", "configuration": { "messagesLimitCount": 12, "messagesLimitDurationMs": 3000, "headersInPayload": true, "metadataInPayload": true } }]
                """)
        try await withGateway(["mock.json": definition]) { (gateway: TestGateway) async throws in
            let first = try await httpCall(.GET, "\(gateway.baseURL)/mock", headers: [("Accept", "application/json")])
            #expect(first.status == 200)
            #expect(first.header("Content-Type") == "application/json")
            let items = first.json?["items"]?.arrayValue ?? []
            #expect(items.map { $0["id"]?.stringValue } == (0..<12).map { String($0) })
            #expect(items.first?["content"]?.stringValue == "mock message")
            #expect(items.first?["headers"]?["X-Mock"]?.arrayValue == [.string("yes")])
            #expect(items.first?["metadata"]?["kind"]?.stringValue == "test")
            #expect(items.first?["metadata"]?["sourceTimestamp"] != nil)
            #expect(first.json?["pagination"]?["nextCursor"]?.stringValue == "11")

            let next = try await httpCall(
                .GET, "\(gateway.baseURL)/mock?cursor=11&limit=3", headers: [("Accept", "application/json")])
            let nextItems = next.json?["items"]?.arrayValue ?? []
            #expect(nextItems.map { $0["id"]?.stringValue } == ["12", "13", "14"])
            #expect(next.json?["pagination"]?["limit"]?.stringValue == "3")
            #expect(next.json?["pagination"]?["nextCursor"]?.stringValue == "14")
        }
    }

    @Test("messageCount ends the mock stream early; messagesLimitDurationMs bounds the wait")
    func countAndDuration() async throws {
        let counted = Definitions.mock(
            interval: 5, count: 4,
            entrypoints: """
                [{ "type": "http-get", "configuration": { "messagesLimitCount": 10, "messagesLimitDurationMs": 10000 } }]
                """)
        let slow = Definitions.mock(
            id: "slow", path: "/slow", interval: 100_000,
            entrypoints: """
                [{ "type": "http-get", "configuration": { "messagesLimitCount": 10, "messagesLimitDurationMs": 300 } }]
                """)
        try await withGateway(["mock.json": counted, "slow.json": slow]) { (gateway: TestGateway) async throws in
            let started = ContinuousClock.now
            let response = try await httpCall(
                .GET, "\(gateway.baseURL)/mock", headers: [("Accept", "application/json")])
            #expect(response.json?["items"]?.arrayValue?.count == 4)
            // The stream ended after 4 messages: the answer did not wait for the 10 s duration.
            #expect(ContinuousClock.now - started < .seconds(8))
            let empty = try await httpCall(.GET, "\(gateway.baseURL)/slow", headers: [("Accept", "application/json")])
            #expect(empty.status == 200)
            #expect(empty.body == #"{"items":[]}"#)
        }
    }

    @Test("Accept picks JSON, XML or plain text; */* means JSON; no Accept means plain text; anything else is 400")
    func contentNegotiation() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            _ = try await httpCall(.POST, "\(gateway.baseURL)/events", body: "a<b]]>")
            let xml = try await httpCall(.GET, "\(gateway.baseURL)/events", headers: [("Accept", "application/xml")])
            #expect(xml.header("Content-Type") == "application/xml")
            #expect(
                xml.body.hasPrefix("<response><items><item><id>0</id><content><![CDATA[a<b]]]]><![CDATA[>]]></content>")
            )
            #expect(xml.body.hasSuffix("<pagination><nextCursor>0</nextCursor></pagination></response>"))

            let text = try await httpCall(.GET, "\(gateway.baseURL)/events")
            #expect(text.header("Content-Type") == "text/plain")
            #expect(text.body.hasPrefix("items\nitem\nid: 0\ncontent: a<b]]>\n"))
            #expect(text.body.hasSuffix("\npagination\nnextCursor: 0"))

            let any = try await httpCall(.GET, "\(gateway.baseURL)/events", headers: [("Accept", "*/*")])
            #expect(any.header("Content-Type") == "application/json")

            let ranked = try await httpCall(
                .GET, "\(gateway.baseURL)/events",
                headers: [("Accept", "application/grpc;q=0.8, application/xml;q=0.5, text/plain;q=0.9")])
            #expect(ranked.header("Content-Type") == "text/plain")

            let bad = try await httpCall(.GET, "\(gateway.baseURL)/events", headers: [("Accept", "application/grpc")])
            #expect(bad.status == 400)
            #expect(bad.json?["key"]?.stringValue == "UNSUPPORTED_ACCEPT")
            #expect(bad.json?["message"]?.stringValue == "Unsupported accept header: [application/grpc]")
        }
    }

    @Test("a malformed cursor or limit gives 400 with a key")
    func malformedCursor() async throws {
        try await withGateway(["events.json": Definitions.inMemory(), "mock.json": Definitions.mock()]) {
            (gateway: TestGateway) async throws in
            for url in [
                "\(gateway.baseURL)/events?cursor=abc", "\(gateway.baseURL)/mock?cursor=-7",
                "\(gateway.baseURL)/events?cursor=1e9",
            ] {
                let response = try await httpCall(.GET, url, headers: [("Accept", "application/json")])
                #expect(response.status == 400, "\(url)")
                #expect(response.json?["key"]?.stringValue == "INVALID_CURSOR", "\(url)")
            }
            let badLimit = try await httpCall(
                .GET, "\(gateway.baseURL)/events?limit=lots", headers: [("Accept", "application/json")])
            #expect(badLimit.status == 400)
            #expect(badLimit.json?["key"]?.stringValue == "INVALID_LIMIT")
        }
    }

    @Test("contents that are JSON, multi-line or not UTF-8 text survive the JSON rendering")
    func contentEscaping() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            let contents = ["{\"a\": [1, 2]}", "line1\nline2\r\n\tend", "quote \" backslash \\ unicode é ☃"]
            for content in contents { _ = try await httpCall(.POST, "\(gateway.baseURL)/events", body: content) }
            let poll = try await httpCall(.GET, "\(gateway.baseURL)/events", headers: [("Accept", "application/json")])
            let received = poll.json?["items"]?.arrayValue?.compactMap { $0["content"]?.stringValue }
            #expect(received == contents)
        }
    }

    @Test("polling with the returned cursor walks the whole log without gaps or repeats")
    func pagination() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            for index in 0..<25 { _ = try await httpCall(.POST, "\(gateway.baseURL)/events", body: "m\(index)") }
            var cursor: String?
            var seen: [String] = []
            for _ in 0..<5 {
                let query = cursor.map { "?limit=10&cursor=\($0)" } ?? "?limit=10"
                let poll = try await httpCall(
                    .GET, "\(gateway.baseURL)/events\(query)", headers: [("Accept", "application/json")])
                let items = poll.json?["items"]?.arrayValue ?? []
                seen += items.compactMap { $0["content"]?.stringValue }
                cursor = poll.json?["pagination"]?["nextCursor"]?.stringValue
                if items.isEmpty { break }
            }
            #expect(seen == (0..<25).map { "m\($0)" })
        }
    }
}
