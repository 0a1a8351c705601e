import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceGateway
import Synchronization
import Testing

import class GatewayTestSupport.TestWebSocket

/// Rate limit, quota and spike arrest end to end: steps in plan and API flows, real sockets, both request paths
/// (the event loop's and the async one's, which a store that needs I/O forces).
@Suite("rate limits")
struct RateLimitTests {
    /// The counter stores the gateway runs with: the local one (counted on the event loop where it serves), and one
    /// that only counts asynchronously, as a shared store will (everything then goes through the async path).
    enum StoreKind: String, CaseIterable, Sendable {
        case local
        case asyncOnly

        func make() -> (any RateLimitStore)? { self == .local ? nil : AsyncOnlyRateLimitStore() }
    }

    /// An in-memory API at `/<id>` with these flows and plans.
    static func api(_ id: String = "orders", flows: String, plans: String = "[]") -> String {
        Definitions.inMemory(id: id, path: "/\(id)")
            .replacingOccurrences(of: #""flows": []"#, with: #""flows": "# + flows)
            .replacingOccurrences(of: #""plans": []"#, with: #""plans": "# + plans)
    }

    static func flow(
        _ name: String, selectors: String = "[]", request: [String] = [], publish: [String] = []
    ) -> String {
        """
        { "name": "\(name)", "enabled": true, "selectors": \(selectors),
          "request": [\(request.joined(separator: ","))], "publish": [\(publish.joined(separator: ","))] }
        """
    }

    static func step(
        _ policy: String = "rate-limit", limit: Int, period: Int = 5, unit: String = "MINUTES", addHeaders: Bool? = true
    ) -> String {
        let field = ["rate-limit": "rate", "quota": "quota", "spike-arrest": "spike"][policy]!
        let headers = addHeaders.map { #""addHeaders": \#($0), "# } ?? ""
        return """
            { "name": "\(policy)", "policy": "\(policy)", "enabled": true,
              "configuration": { \(headers)"\(field)": { "limit": \(limit), "periodTime": \(period), "periodTimeUnit": "\(unit)" } } }
            """
    }

    static func methods(_ methods: String...) -> String {
        #"[{ "type": "http", "path": "/", "pathOperator": "STARTS_WITH", "methods": [\#(methods.map { "\"\($0)\"" }.joined(separator: ","))] }]"#
    }

    static func post(
        _ gateway: TestGateway, _ path: String = "/orders", headers: [(String, String)] = []
    ) async throws
        -> CollectedResponse
    {
        try await httpCall(.POST, "\(gateway.baseURL)\(path)", headers: headers, body: "hello")
    }

    @Test(
        "exactly 100 of 300 requests fired by 64 concurrent clients get through, POST and GET, with the right headers",
        arguments: StoreKind.allCases)
    func exactUnderConcurrency(store: StoreKind) async throws {
        let definition = Self.api(
            flows: """
                [\(Self.flow("posts", selectors: Self.methods("POST"), request: [Self.step(limit: 100)])),
                 \(Self.flow("polls", selectors: Self.methods("GET"), request: [Self.step(limit: 100)]))]
                """)
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            try await withGateway(["orders.json": definition], rateLimitStore: store.make()) { gateway in
                for method in [HTTPMethod.POST, .GET] {
                    let responses = ResponseLog()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for clientIndex in 0..<64 {
                            group.addTask {
                                for _ in stride(from: clientIndex, to: 300, by: 64) {
                                    var request = HTTPClientRequest(url: "\(gateway.baseURL)/orders")
                                    request.method = method
                                    request.headers.add(name: "Accept", value: "application/json")
                                    if method == .POST { request.body = .bytes(ByteBuffer(string: "m")) }
                                    let response = try await client.execute(request, timeout: .seconds(30))
                                    let body = try await response.body.collect(upTo: 1 << 20)
                                    let collected = CollectedResponse(
                                        status: Int(response.status.code),
                                        headers: response.headers.map { ($0.name, $0.value) },
                                        body: String(buffer: body))
                                    responses.entries.withLock { $0.append(collected) }
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                    let all = responses.entries.withLock { $0 }
                    let success = method == .POST ? 202 : 200
                    let passed = all.filter { $0.status == success }
                    let refused = all.filter { $0.status == 429 }
                    #expect(all.count == 300)
                    #expect(
                        passed.count == 100, "\(method): \(Dictionary(grouping: all, by: \.status).mapValues(\.count))")
                    #expect(refused.count == 200, "\(method)")
                    // Each passed request saw its own place in the window: remaining 99, 98, …, 0, once each.
                    #expect(
                        passed.compactMap { $0.header("X-Rate-Limit-Remaining").flatMap(Int.init) }.sorted()
                            == Array(0..<100), "\(method)")
                    #expect(all.allSatisfy { $0.header("X-Rate-Limit-Limit") == "100" }, "\(method)")
                    #expect(Set(all.compactMap { $0.header("X-Rate-Limit-Reset") }).count == 1, "\(method): one window")
                    for response in refused {
                        #expect(response.json?["key"]?.stringValue == "RATE_LIMIT_TOO_MANY_REQUESTS")
                        #expect(response.json?["http_status_code"] == .number(429))
                        #expect(response.header("X-Rate-Limit-Remaining") == "0")
                        #expect(response.header("Retry-After").flatMap(Int.init) != nil)
                    }
                }
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    @Test("quota: X-Quota-* headers by default, QUOTA_TOO_MANY_REQUESTS past the limit; no headers without addHeaders")
    func quota() async throws {
        let definition = Self.api(
            flows:
                "[\(Self.flow("q", request: [Self.step("quota", limit: 3, period: 1, unit: "MONTHS", addHeaders: nil), Self.step(limit: 100, addHeaders: false)]))]"
        )
        try await withGateway(["orders.json": definition]) { gateway in
            let before = Int64(Date().timeIntervalSince1970 * 1000)
            var remaining: [String?] = []
            var statuses: [Int] = []
            var last: CollectedResponse?
            for _ in 0..<4 {
                let response = try await Self.post(gateway)
                statuses.append(response.status)
                remaining.append(response.header("X-Quota-Remaining"))
                #expect(response.header("X-Quota-Limit") == "3")
                #expect(response.header("X-Rate-Limit-Limit") == nil, "addHeaders false adds no headers")
                last = response
            }
            #expect(statuses == [202, 202, 202, 429])
            #expect(remaining == ["2", "1", "0", "0"])
            #expect(last?.json?["key"]?.stringValue == "QUOTA_TOO_MANY_REQUESTS")
            #expect(
                last?.json?["message"]?.stringValue
                    == "Quota exceeded! You reached the limit of 3 requests per 1 months")
            let reset = try #require(last?.header("X-Quota-Reset").flatMap(Int64.init))
            // A calendar month from the first request: 28 to 31 days, an hour either way for a time-zone change.
            #expect(reset > before + 27 * 86_400_000 && reset < before + 32 * 86_400_000, "\(reset)")
        }
    }

    @Test("spike arrest spreads the limit: one request per slice, the next slice lets one more through")
    func spikeArrest() async throws {
        // 2 per 6 s: one request per 3 s slice.
        let definition = Self.api(
            flows: "[\(Self.flow("s", request: [Self.step("spike-arrest", limit: 2, period: 6, unit: "SECONDS")]))]")
        try await withGateway(["orders.json": definition]) { gateway in
            let first = try await Self.post(gateway)
            #expect(first.status == 202)
            #expect(first.header("X-Spike-Arrest-Limit") == "1")
            #expect(first.header("X-Spike-Arrest-Slice-Period") == "3000ms")
            let reset = try #require(first.header("X-Spike-Arrest-Reset").flatMap(Int64.init))
            let second = try await Self.post(gateway)
            #expect(second.status == 429)
            #expect(second.json?["key"]?.stringValue == "SPIKE_ARREST_TOO_MANY_REQUESTS")
            #expect(
                second.json?["message"]?.stringValue
                    == "Spike limit exceeded! You reached the limit of 1 requests per 3000 ms.")
            #expect(second.header("X-Spike-Arrest-Reset") == String(reset), "the same slice")
            // Once the slice has ended, the next one lets a request through.
            let wait = reset - Int64(Date().timeIntervalSince1970 * 1000) + 50
            if wait > 0 { try await Task.sleep(for: .milliseconds(wait)) }
            let third = try await Self.post(gateway)
            #expect(third.status == 202)
            #expect(third.header("X-Spike-Arrest-Reset").flatMap(Int64.init).map { $0 > reset } == true)
        }
    }

    static let twoSubscriptions = """
        { "applications": [{ "id": "app-a", "name": "A" }, { "id": "app-b", "name": "B" }],
          "subscriptions": [
            { "id": "sub-a", "application": "app-a", "api": "orders", "plan": "gold", "status": "ACCEPTED" },
            { "id": "sub-b", "application": "app-b", "api": "orders", "plan": "gold", "status": "ACCEPTED" }],
          "apiKeys": [{ "key": "key-a-0123456789", "subscriptions": ["sub-a"] },
                      { "key": "key-b-0123456789", "subscriptions": ["sub-b"] }] }
        """

    /// An api-key plan `gold` whose flow limits each subscription to 2, a key-less plan `open` without flows, and an
    /// API flow limiting `/limited` (any plan) to 1.
    static let plansAndFlows = api(
        flows:
            "[\(flow("limited", selectors: #"[{ "type": "http", "path": "/limited", "pathOperator": "STARTS_WITH" }]"#, request: [step(limit: 1)]))]",
        plans: """
            [{ "id": "gold", "name": "gold", "security": { "type": "api-key" }, "status": "PUBLISHED",
               "flows": [\(flow("per-subscription", request: [step(limit: 2)]))] },
             { "id": "open", "name": "open", "security": { "type": "key-less" }, "status": "PUBLISHED" }]
            """)

    @Test(
        "each subscription has its own budget (plan flow); the key-less plan is not limited by the api-key plan's flow",
        arguments: StoreKind.allCases)
    func perSubscription(store: StoreKind) async throws {
        try await withGateway(
            ["orders.json": Self.plansAndFlows, "shop.access.json": Self.twoSubscriptions], rateLimitStore: store.make()
        ) { gateway in
            let keyA = [("X-Gravitee-Api-Key", "key-a-0123456789")]
            let keyB = [("X-Gravitee-Api-Key", "key-b-0123456789")]
            var statuses: [Int] = []
            for headers in [keyA, keyA, keyB, keyA, keyB, keyB] {
                statuses.append(try await Self.post(gateway, headers: headers).status)
            }
            #expect(statuses == [202, 202, 202, 429, 202, 429])
            let refused = try await Self.post(gateway, headers: keyA)
            #expect(refused.json?["key"]?.stringValue == "RATE_LIMIT_TOO_MANY_REQUESTS")
            #expect(refused.header("X-Rate-Limit-Limit") == "2")
            // The key-less plan: the gold plan's flow does not apply.
            for _ in 0..<5 { #expect(try await Self.post(gateway).status == 202) }
        }
    }

    @Test("an API flow on a sub-path applies there only (STARTS_WITH), whatever the plan")
    func subPath() async throws {
        try await withGateway(["orders.json": Self.plansAndFlows, "shop.access.json": Self.twoSubscriptions]) {
            gateway in
            #expect(try await Self.post(gateway, "/orders/limited").status == 202)
            let again = try await Self.post(gateway, "/orders/limited/deeper")
            #expect(again.status == 429, "the same step, the same key-less client: one counter")
            #expect(again.header("X-Rate-Limit-Limit") == "1")
            #expect(try await Self.post(gateway, "/orders/other").status == 202)
            #expect(try await Self.post(gateway, "/orders/limitedness").status == 202, "segments, not characters")
            // An api-key subscription has its own counter on the API flow too, and its plan's flow counts as well.
            let keyA = [("X-Gravitee-Api-Key", "key-a-0123456789")]
            let viaKey = try await Self.post(gateway, "/orders/limited", headers: keyA)
            #expect(viaKey.status == 202)
            #expect(viaKey.header("X-Rate-Limit-Limit") == "1", "the API flow ran after the plan flow: its headers win")
        }
    }

    @Test(
        "SSE connections count in the request phase, on the event loop or the async path", arguments: StoreKind.allCases
    )
    func sseConnections(store: StoreKind) async throws {
        let selector =
            #"[{ "type": "channel", "channel": "/", "channel-operator": "STARTS_WITH", "entrypoints": ["sse"] }]"#
        let definition = Self.api(flows: "[\(Self.flow("sse", selectors: selector, request: [Self.step(limit: 1)]))]")
        try await withGateway(["orders.json": definition], rateLimitStore: store.make()) { gateway in
            let first = try await SSEReader.open("\(gateway.baseURL)/orders")
            #expect(first.status == 200)
            #expect(first.headers.first { $0.0.lowercased() == "x-rate-limit-remaining" }?.1 == "0")
            let second = try await SSEReader.open("\(gateway.baseURL)/orders")
            #expect(second.status == 429)
            // Other entrypoints are not selected by the flow.
            #expect(try await Self.post(gateway).status == 202)
        }
    }

    @Test(
        "WebSocket: the upgrade counts in the request phase, each published message in the publish phase; past the limit the socket is closed with 1008",
        arguments: StoreKind.allCases)
    func webSocket(store: StoreKind) async throws {
        let selector =
            #"[{ "type": "channel", "channel": "/", "channel-operator": "STARTS_WITH", "entrypoints": ["websocket"] }]"#
        let definition = Self.api(
            flows:
                "[\(Self.flow("ws", selectors: selector, request: [Self.step(limit: 2)], publish: [Self.step(limit: 3)]))]"
        )
        try await withGateway(["orders.json": definition], rateLimitStore: store.make()) { gateway in
            let first = try await within(.seconds(20)) {
                try await TestWebSocket.session(port: gateway.port, path: "/orders") { socket in
                    let limit = socket.header("X-Rate-Limit-Limit")
                    for index in 1...4 { try await socket.send(.text("message \(index)")) }
                    return (limit, try await socket.readUntilClose())
                }
            }
            if store == .local { #expect(first.0 == "2", "the 101 carries the request phase's headers") }
            #expect(first.1.close?.code == 1008)
            #expect(
                first.1.close?.reason.hasPrefix("RATE_LIMIT_TOO_MANY_REQUESTS") == true,
                "\(String(describing: first.1.close))")
            // Exactly three messages were published; the fourth was not.
            let poll = try await httpCall(.GET, "\(gateway.baseURL)/orders", headers: [("Accept", "application/json")])
            let items = poll.json?["items"]?.arrayValue ?? []
            #expect(items.count == 3, "\(poll.body)")
            // The second connection is allowed (2 per window), but the client's publish budget is spent.
            let second = try await within(.seconds(20)) {
                try await TestWebSocket.session(port: gateway.port, path: "/orders") { socket in
                    try await socket.send(.text("one more"))
                    return try await socket.readUntilClose().close
                }
            }
            #expect(second?.code == 1008)
            #expect(second?.reason.hasPrefix("RATE_LIMIT_TOO_MANY_REQUESTS") == true)
            // The third upgrade is over the request phase's limit.
            let third = try await within(.seconds(20)) {
                try await TestWebSocket.session(port: gateway.port, path: "/orders") { socket in
                    try await socket.readUntilClose().close
                }
            }
            #expect(third?.code == 1008)
            #expect(third?.reason.hasPrefix("RATE_LIMIT_TOO_MANY_REQUESTS") == true)
        }
    }

    @Test("a definition whose steps cannot run is refused at deploy, with the JSON path and the reason")
    func refusedAtDeploy() async throws {
        let conditional = Self.api(
            flows:
                "[\(Self.flow("c", selectors: #"[{ "type": "condition", "condition": "{#request.headers['x'] != null}" }]"#, request: [Self.step(limit: 1)]))]"
        )
        let loaded = DefinitionLoader(catalog: .gateway).load(data: Data(conditional.utf8), source: "orders.json")
        #expect(!loaded.isDeployable)
        #expect(
            loaded.errors.contains {
                $0.path == "flows[0].selectors[0].condition" && $0.code == "UNSUPPORTED_EXPRESSION"
            },
            "\(loaded.errors)")
        try await withGateway(["orders.json": conditional]) { gateway in
            let response = try await Self.post(gateway)
            #expect(response.status == 404)
            #expect(response.json?["key"]?.stringValue == "GATEWAY_API_NOT_FOUND")
        }
    }
}

/// Responses collected by concurrent clients.
final class ResponseLog: Sendable {
    let entries = Mutex<[CollectedResponse]>([])
}

/// A counter store that only counts asynchronously, like a shared store that needs I/O: the gateway must hand
/// every limited request to its async path.
final class AsyncOnlyRateLimitStore: RateLimitStore {
    let inner = LocalRateLimitStore()

    func increment(key: String, weight: Int64, now: Int64, windowEnd: Int64) async throws -> RateLimitWindow {
        await Task.yield()
        return try inner.incrementNow(key: key, weight: weight, now: now, windowEnd: windowEnd)
    }

    var immediate: (any ImmediateRateLimitStore)? { nil }
}
