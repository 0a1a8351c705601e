import Foundation
import SluiceCore
import Testing

import func GatewayTestSupport.rawExchange

@Suite("http-post entrypoint")
struct HTTPPostEntrypointTests {
    @Test("a POST becomes one message and answers 202 with an empty body")
    func postAccepted() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            let response = try await httpCall(
                .POST, "\(gateway.baseURL)/events", headers: [("X-Trace", "abc")], body: "hello")
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

    @Test("the client identifier is echoed: the one given (header, else query), else a new one per request")
    func clientIdentifierEcho() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            let header = try await httpCall(
                .POST, "\(gateway.baseURL)/events", headers: [("X-Gravitee-Client-Identifier", "client-a")], body: "x")
            #expect(header.header("X-Gravitee-Client-Identifier") == "client-a")
            let query = try await httpCall(
                .POST, "\(gateway.baseURL)/events?X-Gravitee-Client-Identifier=client-b", body: "x")
            #expect(query.header("X-Gravitee-Client-Identifier") == "client-b")
            var made: Set<String> = []
            for _ in 0..<3 {
                let response = try await httpCall(.POST, "\(gateway.baseURL)/events", body: "x")
                let identifier = try #require(response.header("X-Gravitee-Client-Identifier"))
                #expect(identifier.count == 36 && identifier.split(separator: "-").count == 5, "\(identifier)")
                made.insert(identifier)
            }
            #expect(made.count == 3)
            // One that could not be echoed in a header (a CR LF from the query) counts as not given.
            let answer = try await within(.seconds(20)) {
                try await rawExchange(
                    port: gateway.port,
                    Array(
                        ("POST /events?X-Gravitee-Client-Identifier=a%0D%0AX-Injected:%201 HTTP/1.1\r\nHost: x\r\n"
                            + "Content-Length: 1\r\nConnection: close\r\n\r\nx").utf8))
            }
            #expect(answer.hasPrefix("HTTP/1.1 202 "), "\(answer)")
            #expect(!answer.lowercased().contains("x-injected"), "\(answer)")
            #expect(answer.lowercased().contains("x-gravitee-client-identifier: "), "\(answer)")
        }
    }

    @Test("202s and other answers on one connection: each framed for its own request (a HEAD's without a body)")
    func acceptedThenOtherAnswers() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            // Two publishes answered on the event loop, then a HEAD and a GET the gateway answers with 404. Were a
            // 202 written past the connection's response encoder, the encoder would pair the HEAD's answer with a
            // publish (and send a body after it) and the GET's with the HEAD (and drop its body).
            let publish = "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx"
            let requests =
                publish + publish + "HEAD /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            let answer = try await within(.seconds(20)) {
                try await rawExchange(port: gateway.port, Array(requests.utf8))
            }
            #expect(answer.components(separatedBy: "HTTP/1.1 202 Accepted\r\n").count == 3, "\(answer)")
            let notFound = answer.components(separatedBy: "HTTP/1.1 404 Not Found\r\n")
            #expect(notFound.count == 3, "\(answer)")
            if notFound.count == 3 {
                #expect(notFound[1].hasSuffix("\r\n\r\n"), "the HEAD's answer carries no body: \(notFound[1])")
                #expect(notFound[2].contains("GATEWAY_API_NOT_FOUND"), "the GET's carries its body: \(notFound[2])")
            }
        }
    }

    @Test("without requestHeadersToMessage the message carries no request headers")
    func headersNotCopied() async throws {
        let definition = Definitions.inMemory(
            entrypoints: """
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
        try await withGateway(
            ["events.json": Definitions.inMemory()], configure: { $0.limits.maxRequestBodyBytes = 1024 }
        ) { (gateway: TestGateway) async throws in
            let response = try await httpCall(
                .POST, "\(gateway.baseURL)/events", body: String(repeating: "x", count: 4096))
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

    @Test("pipelined requests are answered in order, whichever path serves them")
    func pipelining() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            let requests =
                "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
                + "GET /events?limit=1 HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n"
                + "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nsecond"
                + "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
                + "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nthird"
            let answer = try await within(.seconds(20)) {
                try await rawExchange(port: gateway.port, Array(requests.utf8))
            }
            let statuses = answer.components(separatedBy: "HTTP/1.1 ").dropFirst().map { String($0.prefix(3)) }
            #expect(statuses == ["202", "200", "202", "404", "202"], "\(answer)")
            #expect(answer.contains(#""content":"first""#))
            let poll = try await httpCall(.GET, "\(gateway.baseURL)/events", headers: [("Accept", "application/json")])
            #expect(
                poll.json?["items"]?.arrayValue?.compactMap { $0["content"]?.stringValue } == [
                    "first", "second", "third",
                ])
        }
    }

    @Test("a chunked body is published whole")
    func chunked() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            let request =
                "POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                + "4\r\nhell\r\n3\r\no w\r\n4\r\norld\r\n0\r\n\r\n"
            let answer = try await within(.seconds(20)) {
                try await rawExchange(port: gateway.port, Array(request.utf8))
            }
            #expect(answer.hasPrefix("HTTP/1.1 202 "))
            let poll = try await httpCall(.GET, "\(gateway.baseURL)/events", headers: [("Accept", "application/json")])
            #expect(poll.json?["items"]?.arrayValue?.first?["content"]?.stringValue == "hello world")
        }
    }
}
