import Foundation
import NIOCore
import NIOPosix
import SluiceCore
import SluiceGateway
import Testing

import func GatewayTestSupport.rawExchange

@Suite("routing")
struct RoutingTests {
    @Test("a kept connection follows the routing table: an API removed, then replaced, answers as it now is")
    func keptConnectionFollowsRedeploys() async throws {
        // A connection reuses its previous request's route while the routing table has not changed; each change
        // must show on the next request of a connection that is already open.
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: gateway.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            let publish = "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx"
            let answers = try await within(.seconds(20)) {
                try await channel.executeThenClose { inbound, outbound in
                    var reader = inbound.makeAsyncIterator()
                    var received = ""
                    // Reads until `count` answers have ended (each here has a Content-Length).
                    func read(answers count: Int) async throws -> String {
                        while Self.endedAnswers(in: received) < count, let part = try await reader.next() {
                            received += String(buffer: part)
                        }
                        return received
                    }
                    try await outbound.write(ByteBuffer(string: publish))
                    let first = try await read(answers: 1)
                    await gateway.gateway.registry.undeploy(id: "events")
                    try await outbound.write(ByteBuffer(string: publish))
                    let second = try await read(answers: 2)
                    // The API comes back with SSE only: a POST finds the API but no entrypoint for it.
                    let loaded = DefinitionLoader(catalog: .gateway).load(
                        data: Data(Definitions.inMemory(entrypoints: #"[{ "type": "sse" }]"#).utf8),
                        source: "events.json")
                    try gateway.gateway.registry.deploy(try #require(loaded.definition), source: "events.json")
                    try await outbound.write(ByteBuffer(string: publish))
                    let third = try await read(answers: 3)
                    return (first, second, third)
                }
            }
            #expect(answers.0.hasPrefix("HTTP/1.1 202"), "\(answers.0)")
            let second = String(answers.1.dropFirst(answers.0.count))
            #expect(second.hasPrefix("HTTP/1.1 404"), "\(second)")
            #expect(second.contains("GATEWAY_API_NOT_FOUND"), "\(second)")
            let third = String(answers.2.dropFirst(answers.1.count))
            #expect(third.hasPrefix("HTTP/1.1 404"), "\(third)")
            #expect(third.contains("GATEWAY_NO_ENTRYPOINT_MATCHED"), "\(third)")
        }
    }

    /// How many whole answers `text` holds, each framed by its Content-Length.
    static func endedAnswers(in text: String) -> Int {
        let bytes = Array(text.utf8)
        let separator = Array("\r\n\r\n".utf8)
        var count = 0
        var start = 0
        while let headEnd = (start...max(start, bytes.count - separator.count)).first(where: {
            $0 + separator.count <= bytes.count && Array(bytes[$0..<$0 + separator.count]) == separator
        }) {
            let head = String(decoding: bytes[start..<headEnd], as: UTF8.self).lowercased()
            let lines = head.components(separatedBy: "\r\n")
            guard let line = lines.first(where: { $0.hasPrefix("content-length:") }),
                let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
            else { return count }
            let bodyStart = headEnd + separator.count
            guard bytes.count - bodyStart >= length else { return count }
            start = bodyStart + length
            count += 1
        }
        return count
    }

    @Test("longest context path wins; /foo serves /foo and /foo/x but not /foobar")
    func longestPrefix() async throws {
        let outer = Definitions.mock(
            id: "outer", path: "/shop", content: "outer",
            entrypoints: #"[{ "type": "http-get", "configuration": { "messagesLimitCount": 1 } }]"#)
        let inner = Definitions.mock(
            id: "inner", path: "/shop/orders/", content: "inner",
            entrypoints: #"[{ "type": "http-get", "configuration": { "messagesLimitCount": 1 } }]"#)
        try await withGateway(["outer.json": outer, "inner.json": inner]) { (gateway: TestGateway) async throws in
            #expect(try await HotReloadTests.content(gateway, "/shop") == "outer")
            #expect(try await HotReloadTests.content(gateway, "/shop/x") == "outer")
            #expect(try await HotReloadTests.content(gateway, "/shop/orders") == "inner")
            #expect(try await HotReloadTests.content(gateway, "/shop/orders/42") == "inner")
            #expect(try await HotReloadTests.content(gateway, "/shopping") == "status 404")
        }
    }

    @Test("a listener bound to a host serves only that host, ahead of host-less listeners")
    func hosts() async throws {
        let any = Definitions.mock(
            id: "any", path: "/api", content: "any-host",
            entrypoints: #"[{ "type": "http-get", "configuration": { "messagesLimitCount": 1 } }]"#)
        let bound = Definitions.api(
            id: "bound", path: "/api", host: "partners.example.com",
            entrypoints: #"[{ "type": "http-get", "configuration": { "messagesLimitCount": 1 } }]"#,
            endpointType: "mock",
            endpointConfiguration: #"{ "messageInterval": 5, "messageContent": "partners" }"#
        )
        try await withGateway(["any.json": any, "bound.json": bound]) { (gateway: TestGateway) async throws in
            let partners = try await httpCall(
                .GET, "\(gateway.baseURL)/api",
                headers: [("Accept", "application/json"), ("Host", "partners.example.com:8082")])
            #expect(partners.json?["items"]?.arrayValue?.first?["content"]?.stringValue == "partners")
            let other = try await httpCall(
                .GET, "\(gateway.baseURL)/api",
                headers: [("Accept", "application/json"), ("Host", "other.example.com")])
            #expect(other.json?["items"]?.arrayValue?.first?["content"]?.stringValue == "any-host")
        }
    }

    @Test("no API gives 404 with a JSON body naming why; SSE is chosen over http-get only with the SSE Accept")
    func notFoundAndSelection() async throws {
        try await withGateway(["mock.json": Definitions.mock(interval: 5, count: 2)]) {
            (gateway: TestGateway) async throws in
            let missing = try await httpCall(.GET, "\(gateway.baseURL)/missing")
            #expect(missing.status == 404)
            #expect(missing.header("Content-Type") == "application/json")
            #expect(missing.json?["key"]?.stringValue == "GATEWAY_API_NOT_FOUND")
            #expect(missing.json?["message"]?.stringValue == "No context-path matches the request URI.")
            #expect(missing.json?["http_status_code"] == .number(404))

            let poll = try await httpCall(.GET, "\(gateway.baseURL)/mock", headers: [("Accept", "application/json")])
            #expect(poll.header("Content-Type") == "application/json")
            let stream = try await httpCall(.GET, "\(gateway.baseURL)/mock", headers: [("Accept", "text/event-stream")])
            #expect(stream.header("Content-Type") == "text/event-stream;charset=UTF-8")

            let put = try await httpCall(.PUT, "\(gateway.baseURL)/mock", body: "x")
            #expect(put.status == 404)
            #expect(put.json?["key"]?.stringValue == "GATEWAY_NO_ENTRYPOINT_MATCHED")
        }
    }

    @Test("plans: staging and closed plans do not serve; no serving plan gives 401 GATEWAY_PLAN_UNRESOLVABLE")
    func plans() async throws {
        let closed = Definitions.api(
            id: "closed", path: "/closed",
            entrypoints: #"[{ "type": "http-get", "configuration": { "messagesLimitCount": 1 } }]"#,
            endpointType: "mock", endpointConfiguration: #"{ "messageInterval": 5 }"#,
            plans:
                #"[{ "id": "p1", "name": "old", "security": { "type": "key-less" }, "status": "CLOSED" }, { "id": "p2", "name": "next", "security": { "type": "key-less" }, "status": "STAGING" }]"#
        )
        let deprecated = Definitions.api(
            id: "deprecated", path: "/deprecated",
            entrypoints: #"[{ "type": "http-get", "configuration": { "messagesLimitCount": 1 } }]"#,
            endpointType: "mock", endpointConfiguration: #"{ "messageInterval": 5 }"#,
            plans: #"[{ "id": "p1", "name": "old", "security": { "type": "key-less" }, "status": "DEPRECATED" }]"#
        )
        try await withGateway(["closed.json": closed, "deprecated.json": deprecated]) {
            (gateway: TestGateway) async throws in
            let refused = try await httpCall(
                .GET, "\(gateway.baseURL)/closed", headers: [("Accept", "application/json")])
            #expect(refused.status == 401)
            #expect(refused.json?["key"]?.stringValue == "GATEWAY_PLAN_UNRESOLVABLE")
            let served = try await httpCall(
                .GET, "\(gateway.baseURL)/deprecated", headers: [("Accept", "application/json")])
            #expect(served.status == 200)
        }
    }

    @Test("request headers over the limit give 431 with a key, on plain requests and on upgrades")
    func headerLimit() async throws {
        try await withGateway(["events.json": Definitions.inMemory()], configure: { $0.limits.maxHeaderBytes = 2048 }) {
            (gateway: TestGateway) async throws in
            let big = String(repeating: "h", count: 8192)
            for head in [
                "POST /events HTTP/1.1\r\nHost: x\r\nX-Big: \(big)\r\n\r\n",
                "GET /events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Big: \(big)\r\n\r\n",
            ] {
                let answer = try await within(.seconds(10)) {
                    try await rawExchange(port: gateway.port, Array(head.utf8))
                }
                #expect(answer.hasPrefix("HTTP/1.1 431 "), "\(answer.prefix(80))")
                #expect(answer.contains(#""key":"REQUEST_HEADER_FIELDS_TOO_LARGE""#))
            }
            let fine = try await httpCall(.POST, "\(gateway.baseURL)/events", body: "x")
            #expect(fine.status == 202)
        }
    }

    @Test(
        "malformed requests get 400 with a key and the connection closes; the gateway keeps serving",
        arguments: [
            "GARBAGE\r\n\r\n", "GET /events HTTP/9.9\r\n\r\n", "POST /events HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
            "POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n", "\u{0}\u{1}\u{2}\u{7F}",
        ])
    func malformed(request: String) async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            let answer = try await within(.seconds(10)) {
                try await rawExchange(port: gateway.port, Array(request.utf8))
            }
            #expect(answer.hasPrefix("HTTP/1.1 400 "), "\(answer.prefix(120))")
            #expect(answer.contains(#""key":"GATEWAY_INVALID_REQUEST""#))
            let fine = try await httpCall(.POST, "\(gateway.baseURL)/events", body: "x")
            #expect(fine.status == 202)
        }
    }
}
