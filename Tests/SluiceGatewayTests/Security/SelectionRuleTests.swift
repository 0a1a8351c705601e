import Foundation
import SluiceCore
import Testing

/// Plans' selection rules through real sockets: a plan whose rule is false does not take the request, on the
/// event-loop path (POST) and the async path (GET), and a stream opened through a rule keeps it.
@Suite("plan selection rules")
struct SelectionRuleTests {
    /// An in-memory API with a key-less plan for tenant `a` (by header) and an API-key plan for the rest.
    static let definition = Definitions.inMemory(id: "orders", path: "/orders").replacingOccurrences(
        of: #""plans": []"#,
        with: #"""
            "plans": [
              { "id": "tenant-a", "name": "tenant-a", "security": { "type": "key-less" }, "status": "PUBLISHED",
                "selectionRule": "{#request.headers['X-Tenant'][0] == 'a' && #request.path.startsWith('/orders')}" },
              { "id": "orders-key", "name": "orders-key", "security": { "type": "api-key" }, "status": "PUBLISHED" }]
            """#)

    @Test("the key-less plan serves tenant a only; others need the API-key plan")
    func keylessByHeader() async throws {
        let access = APIKeyPlanTests.access()
        try await withGateway(["orders.json": Self.definition, "shop.access.json": access]) {
            (gateway: TestGateway) async throws in
            let tenantA = try await httpCall(
                .POST, "\(gateway.baseURL)/orders", headers: [("X-Tenant", "a")], body: "from a")
            #expect(tenantA.status == 202, "\(tenantA.body)")
            let tenantB = try await httpCall(
                .POST, "\(gateway.baseURL)/orders", headers: [("X-Tenant", "b")], body: "from b")
            #expect(tenantB.status == 401)
            #expect(tenantB.json?["key"]?.stringValue == "GATEWAY_PLAN_UNRESOLVABLE")
            let keyed = try await httpCall(
                .POST, "\(gateway.baseURL)/orders",
                headers: [("X-Tenant", "b"), ("X-Gravitee-Api-Key", APIKeyPlanTests.validKey)], body: "keyed")
            #expect(keyed.status == 202)
            // The async path (http-get) decides the same way.
            let getA = try await httpCall(
                .GET, "\(gateway.baseURL)/orders", headers: [("Accept", "application/json"), ("X-Tenant", "a")])
            #expect(getA.status == 200, "\(getA.body)")
            let getNone = try await httpCall(
                .GET, "\(gateway.baseURL)/orders", headers: [("Accept", "application/json")])
            #expect(getNone.status == 401)
            #expect(getNone.json?["key"]?.stringValue == "GATEWAY_PLAN_UNRESOLVABLE")
        }
    }
}
