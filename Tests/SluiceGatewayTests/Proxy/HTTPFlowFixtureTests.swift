import Foundation
import SluiceCore
import Testing

/// Gravitee's flow fixtures for proxy APIs (../shared/reference/gravitee-v4/http/flows) deployed as they are, with
/// only the placeholder backend address replaced by a real local backend, and driven over real sockets; each test
/// states what the fixture's authors expect: request steps show in the headers the backend received, response
/// steps in the headers the client received.
@Suite("Gravitee proxy flow fixtures")
struct HTTPFlowFixtureTests {
    static let folder = packageRoot.deletingLastPathComponent().appendingPathComponent(
        "shared/reference/gravitee-v4/http/flows")
    static var present: Bool { FileManager.default.fileExists(atPath: folder.path) }

    /// Runs `body` with the fixture deployed in front of a fresh echo backend.
    static func withFixture(
        _ name: String, _ body: (TestGateway) async throws -> Void
    ) async throws {
        let backend = try await TestBackend.start()
        defer { Task { await backend.stop() } }
        let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            .replacingOccurrences(of: "http://localhost:8080", with: backend.url)
        try await withGateway([name: text], body)
    }

    /// A GET through the fixture: the headers the backend received, and the response.
    static func call(
        _ gateway: TestGateway, _ path: String, headers: [(String, String)] = []
    ) async throws -> (sent: [String: String], response: CollectedResponse) {
        let response = try await httpCall(.GET, gateway.baseURL + path, headers: headers)
        var sent: [String: String] = [:]
        for pair in response.json?["headers"]?.arrayValue ?? [] {
            guard let items = pair.arrayValue, items.count == 2, let name = items[0].stringValue,
                let value = items[1].stringValue
            else { continue }
            sent[name.lowercased()] = value
        }
        return (sent, response)
    }

    @Test("flows/api.json: STARTS_WITH `/` runs everywhere, `/products` under /products only, on both phases")
    func startsWith() async throws {
        guard Self.present else {
            print("skipped: ../shared/reference/gravitee-v4 is not present in this checkout")
            return
        }
        try await Self.withFixture("api.json") { gateway in
            let root = try await Self.call(gateway, "/test")
            #expect(root.response.status == 200, "\(root.response.body)")
            #expect(root.sent["x-request-flow-0"] == "Flow /")
            #expect(root.sent["x-request-flow-1"] == nil)
            #expect(root.response.header("X-Response-Flow-0") == "Flow /")
            #expect(root.response.header("X-Response-Flow-1") == nil)
            let products = try await Self.call(gateway, "/test/products/42")
            #expect(products.sent["x-request-flow-0"] == "Flow /")
            #expect(products.sent["x-request-flow-1"] == "Flow /products")
            #expect(products.response.header("X-Response-Flow-0") == "Flow /")
            #expect(products.response.header("X-Response-Flow-1") == "Flow /products")
            #expect(products.response.json?["uri"]?.stringValue == "/endpoint/products/42")
        }
    }

    @Test("flows/api-flows-equals-and-starts-with.json: EQUALS `/` at the root only")
    func equals() async throws {
        guard Self.present else {
            print("skipped: ../shared/reference/gravitee-v4 is not present in this checkout")
            return
        }
        try await Self.withFixture("api-flows-equals-and-starts-with.json") { gateway in
            let root = try await Self.call(gateway, "/test")
            #expect(root.sent["x-request-flow-0"] == "Flow /")
            #expect(root.response.header("X-Response-Flow-0") == "Flow /")
            let products = try await Self.call(gateway, "/test/products")
            #expect(products.sent["x-request-flow-0"] == nil)
            #expect(products.sent["x-request-flow-1"] == "Flow /products")
            #expect(products.response.header("X-Response-Flow-0") == nil)
            #expect(products.response.header("X-Response-Flow-1") == "Flow /products")
        }
    }

    @Test("flows/api-conditional-flows.json: a condition selector on X-Condition-Flow-Selection picks the flows")
    func conditional() async throws {
        guard Self.present else {
            print("skipped: ../shared/reference/gravitee-v4 is not present in this checkout")
            return
        }
        try await Self.withFixture("api-conditional-flows.json") { gateway in
            let none = try await Self.call(gateway, "/test/products")
            #expect(none.response.status == 200)
            #expect(none.sent["x-request-flow-0"] == nil && none.sent["x-request-flow-1"] == nil)
            let root = try await Self.call(
                gateway, "/test/products", headers: [("X-Condition-Flow-Selection", "root-condition")])
            #expect(root.sent["x-request-flow-0"] == "Flow /")
            #expect(root.sent["x-request-flow-1"] == nil)
            #expect(root.response.header("X-Response-Flow-0") == "Flow /")
            let product = try await Self.call(
                gateway, "/test/products", headers: [("X-Condition-Flow-Selection", "product-condition")])
            #expect(product.sent["x-request-flow-0"] == nil)
            #expect(product.sent["x-request-flow-1"] == "Flow /products")
            #expect(product.response.header("X-Response-Flow-1") == "Flow /products")
            // The product condition outside /products: no flow.
            let outside = try await Self.call(
                gateway, "/test/other", headers: [("X-Condition-Flow-Selection", "product-condition")])
            #expect(outside.sent["x-request-flow-1"] == nil)
        }
    }

    @Test(
        "flows/api-condition-after-async-policy.json: flow conditions are evaluated when the flow starts, after the earlier flows' steps (latency included) have run"
    )
    func conditionAfterAsyncPolicy() async throws {
        guard Self.present else {
            print("skipped: ../shared/reference/gravitee-v4 is not present in this checkout")
            return
        }
        try await Self.withFixture("api-condition-after-async-policy.json") { gateway in
            // The marker is set (behind a 50 ms latency step) before the second flow's condition is read.
            let skipped = try await Self.call(gateway, "/test-condition-after-async/async")
            #expect(skipped.response.status == 200, "\(skipped.response.body)")
            #expect(skipped.sent["x-next-flow-executed"] == nil)
            let matching = try await Self.call(gateway, "/test-condition-after-async/async-matching")
            #expect(matching.sent["x-next-flow-executed"] == "true")
            let sync = try await Self.call(gateway, "/test-condition-after-async/sync")
            #expect(sync.sent["x-next-flow-executed"] == nil)
        }
    }
}
