import Foundation
import GatewayTestSupport
import PostgresTestSupport
import SluiceCore
import SluiceGateway
import SluiceStore
import Testing

/// Gateways following the management store: what the store says is what they serve, within 2 seconds.
@Suite("gateway sync from the SQLite store")
struct SQLiteStoreSyncTests {
    @Test(
        "an API started in the store is deployed and answers; a definition that stops validating leaves it as it was; stopping it removes it"
    )
    func deployAndStop() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-sync-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await SQLiteManagementStore(directory: directory.path)
        try await withStoreGateway(store: store) { node in
            #expect(try await post(node, key: nil) == 404)
            _ = try await store.createAPI(
                ManagedAPI(id: "orders", name: "Orders", definition: definition("orders"), lifecycleState: .started),
                context: management)
            // Started, but no published plan yet: never served open.
            try await Task.sleep(for: .milliseconds(1200))
            #expect(try await post(node, key: nil) == 404)
            _ = try await store.createPlan(
                ManagedPlan(id: "free", apiID: "orders", name: "Free", securityType: "key-less", status: .published),
                context: management)
            let took = try await eventually(within: .seconds(2), "API deployed") {
                try await post(node, key: nil) == 202
            }
            print("store → gateway deployment took \(took)")
            // A definition that no longer validates: logged, the API keeps serving as it was.
            var api = try await store.api(id: "orders")
            api.definition = definition("orders", endpointType: "no-such-endpoint")
            api = try await store.updateAPI(api, expectedVersion: api.version, context: management)
            try await Task.sleep(for: .milliseconds(1200))
            #expect(try await post(node, key: nil) == 202)
            #expect(node.gateway.registry.deployedIDs == ["orders"])
            // Fixed, then stopped: it goes.
            api.definition = definition("orders")
            api.lifecycleState = .stopped
            _ = try await store.updateAPI(api, expectedVersion: api.version, context: management)
            try await eventually(within: .seconds(2), "API undeployed") { try await post(node, key: nil) == 404 }
            #expect(node.gateway.registry.deployedIDs.isEmpty)
        }
    }

    @Test("closing an API's only plan takes the API off the gateway rather than leaving it open") func closedPlan()
        async throws
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-sync-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await SQLiteManagementStore(directory: directory.path)
        try await createKeyedAPI(store)
        try await withStoreGateway(store: store) { node in
            #expect(try await post(node) == 202)
            #expect(try await post(node, key: nil) == 401)
            var plan = try await store.plan(id: "orders-key")
            plan.status = .closed
            _ = try await store.updatePlan(plan, expectedVersion: plan.version, context: management)
            try await eventually(within: .seconds(2), "API removed") { try await post(node, key: nil) == 404 }
        }
    }

    @Test("a gateway whose unread events were pruned loads everything again instead of applying only what is left")
    func prunedEvents() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-sync-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await SQLiteManagementStore(directory: directory.path)
        try await createKeyedAPI(store)
        // Polling all but off: the test says when the node reads the store.
        try await withStoreGateway(store: store, pollIntervalMs: 600_000) { node in
            let sync = try #require(node.gateway.storeSync)
            #expect(try await post(node) == 202)
            // An API change, then an access change; the API change's events are pruned before the node reads.
            _ = try await store.createAPI(
                ManagedAPI(id: "billing", name: "Billing", definition: definition("billing"), lifecycleState: .started),
                context: management)
            _ = try await store.createPlan(
                ManagedPlan(id: "open", apiID: "billing", name: "Open", securityType: "key-less", status: .published),
                context: management)
            try await revokeKey(store)
            #expect(try await store.pruneEvents(before: Date().addingTimeInterval(60)) > 0)
            #expect(try await store.events(after: 0, limit: 100).map(\.resourceType) == [.apiKey])
            await sync.synchronize()
            #expect(try await post(node) == 401)
            #expect(try await post(node, "/billing", key: nil) == 202)
            #expect(node.gateway.registry.deployedIDs.sorted() == ["billing", "orders"])
        }
    }

    @Test("the --apis directory is seeded into the store at start and served from it; the store's later changes win")
    func seeding() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-seed-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let apis = root.appendingPathComponent("apis")
        try FileManager.default.createDirectory(at: apis, withIntermediateDirectories: true)
        let keyed = definition("orders").replacingOccurrences(
            of: #""plans":[]"#,
            with:
                #""plans":[{"id":"orders-key","name":"Key","security":{"type":"api-key"},"mode":"STANDARD","status":"PUBLISHED"}]"#
        )
        try keyed.write(to: apis.appendingPathComponent("orders.json"), atomically: true, encoding: .utf8)
        try definition("open").write(to: apis.appendingPathComponent("open.json"), atomically: true, encoding: .utf8)
        try """
        { "applications": [{ "id": "shop", "name": "Shop" }],
          "subscriptions": [{ "id": "sub", "application": "shop", "api": "orders", "plan": "orders-key", "status": "ACCEPTED" }],
          "apiKeys": [{ "key": "\(validKey)", "subscriptions": ["sub"] }] }
        """.write(to: apis.appendingPathComponent("shop.access.json"), atomically: true, encoding: .utf8)
        let store = try await SQLiteManagementStore(directory: root.appendingPathComponent("data").path)
        try await withStoreGateway(store: store, seed: apis.path) { (node: StoreGateway) async throws in
            #expect(try await post(node) == 202)
            #expect(try await post(node, key: nil) == 401)
            #expect(try await post(node, "/open", key: nil) == 202)  // a definition without plans stays open
            #expect(try await store.plan(id: "open-keyless").securityType == "key-less")
            let keys = try await store.listAPIKeys(APIKeyFilter(), page: .all).items
            #expect(keys.count == 1 && keys[0].hash.constantTimeEquals(APIKeyHash(key: validKey)))
            try await revokeKey(store, id: keys[0].id)
            try await eventually(within: .seconds(2), "revocation applied") { try await post(node) == 401 }
        }
        // A second start seeds nothing over what the store holds: the revocation stands.
        try await withStoreGateway(store: store, seed: apis.path) { (node: StoreGateway) async throws in
            #expect(try await post(node) == 401)
            #expect(try await store.auditLog(AuditFilter(actor: "seed"), page: .all).totalCount == 7)
        }
    }
}

/// Several gateway nodes on one real PostgreSQL server.
@Suite(
    "gateway sync from PostgreSQL",
    .enabled(if: PostgresEnvironment.shouldRun, Comment(rawValue: PostgresEnvironment.skipReason)),
    // A test that waits on something that never comes fails rather than holding the whole run.
    .timeLimit(.minutes(2)))
struct PostgresStoreSyncTests {
    @Test("a key revoked in the store is refused by a running gateway within 2 s")
    func revocation() async throws {
        try await withPostgres { server in
            try await withRunningStore(try postgresStore(server.url)) { admin in
                try await createKeyedAPI(admin)
                try await withStoreGateway(store: try postgresStore(server.url)) { node in
                    #expect(try await post(node) == 202)
                    #expect(try await post(node, key: "wrong") == 401)
                    try await revokeKey(admin)
                    let took = try await eventually(within: .seconds(2), "revocation applied") {
                        try await post(node) == 401
                    }
                    print("revocation reached the gateway in \(took)")
                }
            }
        }
    }

    @Test("with polling all but off, LISTEN/NOTIFY alone carries a change to the gateway within 2 s")
    func notificationsAlone() async throws {
        try await withPostgres { server in
            try await withRunningStore(try postgresStore(server.url)) { admin in
                try await createKeyedAPI(admin)
                try await withStoreGateway(store: try postgresStore(server.url), pollIntervalMs: 60_000) { node in
                    #expect(try await post(node) == 202)
                    // The first poll after start may still be under way: let it pass.
                    try await Task.sleep(for: .milliseconds(300))
                    try await revokeKey(admin)
                    try await eventually(within: .seconds(2), "notified revocation applied") {
                        try await post(node) == 401
                    }
                }
            }
        }
    }

    @Test("two gateways on one PostgreSQL both refuse a revoked key within 2 s; a gateway started later catches up")
    func twoNodes() async throws {
        try await withPostgres { server in
            try await withRunningStore(try postgresStore(server.url)) { admin in
                try await createKeyedAPI(admin)
                try await withStoreGateway(store: try postgresStore(server.url)) { nodeA in
                    // A change while only node A runs: a second key.
                    _ = try await admin.createAPIKey(
                        ManagedAPIKey(
                            id: "key2", applicationID: "shop", hash: APIKeyHash(key: "second-key-0123"),
                            subscriptions: ["sub"]), context: management)
                    try await eventually(within: .seconds(2), "node A has the second key") {
                        try await post(nodeA, key: "second-key-0123") == 202
                    }
                    try await withStoreGateway(store: try postgresStore(server.url)) { nodeB in
                        #expect(try await post(nodeB) == 202)
                        #expect(try await post(nodeB, key: "second-key-0123") == 202)
                        try await revokeKey(admin)
                        async let tookA = eventually(within: .seconds(2), "node A refuses") {
                            try await post(nodeA) == 401
                        }
                        async let tookB = eventually(within: .seconds(2), "node B refuses") {
                            try await post(nodeB) == 401
                        }
                        let (a, b) = try await (tookA, tookB)
                        print("revocation: node A \(a), node B \(b)")
                        #expect(try await post(nodeA, key: "second-key-0123") == 202)
                        #expect(try await post(nodeB, key: "second-key-0123") == 202)
                    }
                }
            }
        }
    }

    @Test("a store outage keeps the gateway serving its last state; it catches up when the store returns")
    func outage() async throws {
        try await withPostgres { server in
            let adminStore = try postgresStore(server.url)
            try await withRunningStore(adminStore) { admin in
                try await createKeyedAPI(admin)
            }
            try await withStoreGateway(store: try postgresStore(server.url, timeout: .seconds(1))) { node in
                #expect(try await post(node) == 202)
                server.stop(removing: false)
                // Several polls fail meanwhile: the API and the key still serve.
                for _ in 0..<6 {
                    try await Task.sleep(for: .milliseconds(500))
                    #expect(try await post(node) == 202)
                    #expect(try await post(node, key: "wrong") == 401)
                }
                try await server.restart()
                try await withRunningStore(try postgresStore(server.url)) { admin in
                    try await revokeKey(admin)
                    _ = try await admin.createAPI(
                        ManagedAPI(id: "late", name: "Late", definition: definition("late"), lifecycleState: .started),
                        context: management)
                    _ = try await admin.createPlan(
                        ManagedPlan(
                            id: "late-free", apiID: "late", name: "Free", securityType: "key-less", status: .published),
                        context: management)
                }
                try await eventually(within: .seconds(10), "caught up after the outage") {
                    try await post(node) == 401
                }
                try await eventually(within: .seconds(2), "new API after the outage") {
                    try await post(node, "/late", key: nil) == 202
                }
            }
        }
    }

    @Test("a rate limit shared by two nodes holds within 5%")
    func sharedRateLimit() async throws {
        let flows = """
            [{ "name": "limit", "enabled": true, "selectors": [],
               "request": [{ "name": "rate-limit", "policy": "rate-limit", "enabled": true,
                             "configuration": { "addHeaders": true, "rate": { "limit": 100, "periodTime": 5, "periodTimeUnit": "MINUTES" } } }],
               "publish": [] }]
            """
        try await withPostgres { server in
            try await withRunningStore(try postgresStore(server.url)) { admin in
                try await createKeyedAPI(admin, flows: flows)
                let storeA = try postgresStore(server.url)
                let storeB = try postgresStore(server.url)
                try await withStoreGateway(store: storeA, rateLimitStore: storeA.rateLimitStore) { nodeA in
                    try await withStoreGateway(store: storeB, rateLimitStore: storeB.rateLimitStore) { nodeB in
                        let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                            for client in 0..<16 {
                                let node = client % 2 == 0 ? nodeA : nodeB
                                group.addTask {
                                    var statuses: [Int] = []
                                    for _ in 0..<20 { statuses.append(try await post(node)) }
                                    return statuses
                                }
                            }
                            return try await group.reduce(into: [Int]()) { $0 += $1 }
                        }
                        let passed = statuses.filter { $0 == 202 }.count
                        let refused = statuses.filter { $0 == 429 }.count
                        print("shared rate limit: \(passed) passed, \(refused) refused of \(statuses.count)")
                        #expect(statuses.count == 320)
                        #expect(
                            (95...105).contains(passed),
                            "\(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count))")
                        #expect(passed + refused == 320)
                    }
                }
            }
        }
    }
}
