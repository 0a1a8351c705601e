import Foundation
import SluiceCore
import Testing

/// Gravitee's own flow fixtures (../shared/reference/gravitee-v4/messages/{flows,bestmatch,el}) deployed as they
/// are and driven over real sockets; each test states what the fixture's authors expect. (The `el/` fixtures at
/// the corpus's top level are proxy APIs, which this gateway does not serve: SluiceCoreTests reads their flows.)
@Suite("Gravitee flow fixtures")
struct FlowFixtureTests {
    static let folder = packageRoot.deletingLastPathComponent().appendingPathComponent(
        "shared/reference/gravitee-v4/messages")
    static var present: Bool { FileManager.default.fileExists(atPath: folder.path) }

    static func fixture(_ path: String) throws -> String {
        try String(contentsOf: folder.appendingPathComponent(path), encoding: .utf8)
    }

    /// One poll of the fixture's http-get entrypoint at `path`.
    static func get(
        _ gateway: TestGateway, _ path: String, headers: [(String, String)] = []
    ) async throws
        -> CollectedResponse
    {
        try await httpCall(.GET, gateway.baseURL + path, headers: [("Accept", "application/json")] + headers)
    }

    @Test("flows/api.json: channel STARTS_WITH selectors pick every flow whose channel starts the path")
    func startsWith() async throws {
        guard Self.present else {
            print("skipped: ../shared/reference/gravitee-v4 is not present in this checkout")
            return
        }
        try await withGateway(["api.json": try Self.fixture("flows/api.json")]) { gateway in
            // `/test`: only "Flow /" (channel `/`); its response step adds X-Response-Flow-0.
            let root = try await Self.get(gateway, "/test")
            #expect(root.status == 200)
            #expect(root.header("X-Response-Flow-0") == "Flow /")
            #expect(root.header("X-Response-Flow-1") == nil)
            // The mock endpoint's one message still comes through.
            #expect(root.json?["items"]?.arrayValue?.first?["content"]?.stringValue == "Mock data")
            // `/test/products/1`: both flows.
            let products = try await Self.get(gateway, "/test/products/1")
            #expect(products.header("X-Response-Flow-0") == "Flow /")
            #expect(products.header("X-Response-Flow-1") == "Flow /products")
            // `/test/productsX` is not under `/products` (segments, not characters).
            #expect(try await Self.get(gateway, "/test/productsX").header("X-Response-Flow-1") == nil)
        }
    }

    @Test("flows/api-flows-equals-and-starts-with.json: EQUALS `/` only at the root, STARTS_WITH `/` everywhere")
    func equalsAndStartsWith() async throws {
        guard Self.present else {
            print("skipped: ../shared/reference/gravitee-v4 is not present in this checkout")
            return
        }
        try await withGateway(["api.json": try Self.fixture("flows/api-flows-equals-and-starts-with.json")]) {
            gateway in
            let root = try await Self.get(gateway, "/test")
            #expect(root.header("X-Response-Flow-0") == "Flow /")
            #expect(root.header("X-Response-Flow-1") == "Flow /products")
            let deeper = try await Self.get(gateway, "/test/products")
            #expect(deeper.status == 200)
            #expect(deeper.header("X-Response-Flow-0") == nil)
            #expect(deeper.header("X-Response-Flow-1") == "Flow /products")
        }
    }

    @Test("flows/api-conditional-flows.json: the condition selector on X-Condition-Flow-Selection picks the flow")
    func conditionalFlows() async throws {
        guard Self.present else {
            print("skipped: ../shared/reference/gravitee-v4 is not present in this checkout")
            return
        }
        try await withGateway(["api.json": try Self.fixture("flows/api-conditional-flows.json")]) { gateway in
            let root = try await Self.get(gateway, "/test", headers: [("X-Condition-Flow-Selection", "root-condition")])
            #expect(root.header("X-Response-Flow-0") == "Flow /")
            #expect(root.header("X-Response-Flow-1") == nil)
            let product = try await Self.get(
                gateway, "/test", headers: [("X-Condition-Flow-Selection", "product-condition")])
            #expect(product.header("X-Response-Flow-0") == nil)
            #expect(product.header("X-Response-Flow-1") == "Flow /products")
            // Neither condition holds: no flow runs, and the request is served all the same.
            let none = try await Self.get(gateway, "/test")
            #expect(none.status == 200)
            #expect(none.header("X-Response-Flow-0") == nil)
            #expect(none.header("X-Response-Flow-1") == nil)
        }
    }

    @Test("flows/api-conditional-flows-double-evaluation-case.json: conditions are evaluated once, at the request")
    func conditionsEvaluatedOnce() async throws {
        guard Self.present else {
            print("skipped: ../shared/reference/gravitee-v4 is not present in this checkout")
            return
        }
        try await withGateway(["api.json": try Self.fixture("flows/api-conditional-flows-double-evaluation-case.json")])
        { gateway in
            // The request phase removes the header the condition reads; the flow's response phase still runs.
            let response = try await Self.get(
                gateway, "/test-double-evaluation", headers: [("X-Condition-Flow-Selection", "root-condition")])
            #expect(response.status == 200)
            #expect(response.header("X-Response-Flow-0") == "Flow /")
        }
    }

    @Test("bestmatch/api.json: one plan flow and one API flow, the best matching path of each")
    func bestMatch() async throws {
        guard Self.present else {
            print("skipped: ../shared/reference/gravitee-v4 is not present in this checkout")
            return
        }
        try await withGateway(["api.json": try Self.fixture("bestmatch/api.json")]) { gateway in
            let expected: [(path: String, plan: String?, api: String?)] = [
                ("/test", "/", nil),
                ("/test/books", "/books", "/books"),
                ("/test/books/145", "/books/:bookId", "/books"),
                ("/test/books/145/chapters/12", "/books/:bookId", "/books/:bookId/chapters/:chapterId"),
                ("/test/books/9999/chapters/1", "/books/:bookId", "/books/9999/chapters"),
                (
                    "/test/books/145/chapters/12/pages/3", "/books/:bookId",
                    "/books/:bookId/chapters/:chapterId/pages/:pageId"
                ),
            ]
            for (path, plan, api) in expected {
                let response = try await Self.get(gateway, path)
                #expect(response.status == 200, "\(path)")
                #expect(response.header("X-Plan-Flow-Selected") == plan, "\(path)")
                #expect(response.header("X-Api-Flow-Selected") == api, "\(path)")
            }
        }
    }

    @Test("el/message-expression-language.json: publish-phase headers from #message.content and #message.headers")
    func messageExpressions() async throws {
        guard Self.present else {
            print("skipped: ../shared/reference/gravitee-v4 is not present in this checkout")
            return
        }
        // The fixture publishes to a mock endpoint, which keeps nothing: as the corpus's README says, the endpoint is
        // swapped for the embedded log, and an http-get entrypoint added to read the published message back.
        var definition = try JSONValue.parse(json: Data(try Self.fixture("el/message-expression-language.json").utf8))
        guard case .object(var root) = definition, case .array(var listeners)? = root["listeners"],
            case .object(var listener) = listeners[0], case .array(var entrypoints)? = listener["entrypoints"]
        else {
            Issue.record("unexpected fixture shape")
            return
        }
        entrypoints.append(
            try JSONValue.parse(
                json: Data(#"{ "type": "http-get", "configuration": { "headersInPayload": true } }"#.utf8)))
        listener["entrypoints"] = .array(entrypoints)
        listeners[0] = .object(listener)
        root["listeners"] = .array(listeners)
        root["endpointGroups"] = try JSONValue.parse(
            json: Data(
                #"[{ "name": "g", "type": "inmemory", "endpoints": [{ "name": "e", "type": "inmemory", "configuration": { "topic": "el-fixture", "autoOffsetReset": "earliest" } }] }]"#
                    .utf8))
        definition = .object(root)
        try await withGateway(["api.json": definition.jsonText()]) { gateway in
            let posted = try await httpCall(
                .POST, gateway.baseURL + "/test", headers: [("x-header-test", "header-value")], body: "hello")
            #expect(posted.status == 202)
            let polled = try await Self.get(gateway, "/test")
            let item = try #require(polled.json?["items"]?.arrayValue?.first, "\(polled.body)")
            #expect(item["content"]?.stringValue == "hello")
            let headers = item["headers"]?.objectValue
            // x-header-test-added = the content; x-header-test-renamed = the header's value; the original removed.
            #expect(headers?["x-header-test-added"]?.arrayValue?.first?.stringValue == "hello")
            #expect(headers?["x-header-test-renamed"]?.arrayValue?.first?.stringValue == "header-value")
            #expect(headers?.keys.contains { $0.lowercased() == "x-header-test" } == false, "\(item)")
        }
    }
}
