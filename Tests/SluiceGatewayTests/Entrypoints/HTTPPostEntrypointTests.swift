import Foundation
import SluiceCore
import Testing

@Suite("http-post entrypoint")
struct HTTPPostEntrypointTests {
    @Test("a POST becomes one message and answers 202 with an empty body")
    func postAccepted() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            let response = try await httpCall(.POST, "\(gateway.baseURL)/events", headers: [("X-Trace", "abc")], body: "hello")
            #expect(response.status == 202)
            #expect(response.body.isEmpty)
            let poll = try await httpCall(.GET, "\(gateway.baseURL)/events", headers: [("Accept", "application/json")])
            let items = poll.json?["items"]?.arrayValue ?? []
            #expect(items.count == 1)
            #expect(items.first?["content"]?.stringValue == "hello")
            #expect(items.first?["id"]?.stringValue == "0")
            // requestHeadersToMessage copies the request's headers into the message.
            #expect(items.first?["headers"]?["X-Trace"]?.arrayValue?.first?.stringValue == "abc")
        }
    }

    @Test("without requestHeadersToMessage the message carries no request headers")
    func headersNotCopied() async throws {
        let definition = Definitions.inMemory(entrypoints: """
            [{ "type": "http-post" }, { "type": "http-get", "configuration": { "headersInPayload": true, "messagesLimitDurationMs": 200 } }]
            """)
        try await withGateway(["events.json": definition]) { (gateway: TestGateway) async throws in
            _ = try await httpCall(.POST, "\(gateway.baseURL)/events", headers: [("X-Trace", "abc")], body: "x")
            let poll = try await httpCall(.GET, "\(gateway.baseURL)/events", headers: [("Accept", "application/json")])
            let headers = poll.json?["items"]?.arrayValue?.first?["headers"]?.objectValue
            #expect(headers?.isEmpty == true)
        }
    }

    @Test("a body over the limit gives 413 with a key, and nothing is published")
    func bodyTooLarge() async throws {
        try await withGateway(["events.json": Definitions.inMemory()], configure: { $0.limits.maxRequestBodyBytes = 1024 }) { (gateway: TestGateway) async throws in
            let response = try await httpCall(.POST, "\(gateway.baseURL)/events", body: String(repeating: "x", count: 4096))
            #expect(response.status == 413)
            #expect(response.json?["key"]?.stringValue == "REQUEST_PAYLOAD_TOO_LARGE")
            let ok = try await httpCall(.POST, "\(gateway.baseURL)/events", body: String(repeating: "y", count: 1024))
            #expect(ok.status == 202)
            let poll = try await httpCall(.GET, "\(gateway.baseURL)/events", headers: [("Accept", "application/json")])
            #expect(poll.json?["items"]?.arrayValue?.count == 1)
        }
    }

    @Test("a POST to an API without http-post gives 404 naming the missing entrypoint")
    func noPostEntrypoint() async throws {
        let definition = Definitions.mock(entrypoints: #"[{ "type": "sse" }]"#)
        try await withGateway(["mock.json": definition]) { (gateway: TestGateway) async throws in
            let response = try await httpCall(.POST, "\(gateway.baseURL)/mock", body: "x")
            #expect(response.status == 404)
            #expect(response.json?["message"]?.stringValue?.contains("No entrypoint matches") == true)
            #expect(response.json?["key"]?.stringValue == "GATEWAY_NO_ENTRYPOINT_MATCHED")
        }
    }
}
