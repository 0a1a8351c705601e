import Foundation
import GatewayTestSupport
import Logging
import PostgresTestSupport
import ServiceLifecycle
import SluiceCore
import SluiceGateway
import SluiceManagement
import SluiceStore
import Testing

/// What the management API changes, a gateway node serves: an API imported and started, an application
/// subscribed with a key, calls through the gateway with the key, and the key refused soon after it is revoked.
@Suite("management API and a gateway node")
struct ManagementGatewayTests {
    @Test("import, subscribe, call with the key through a gateway, revoke: refused within 2 s")
    func revocationReachesTheGateway() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-e2e-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        // The management API and the gateway each open the same SQLite file, as two processes would.
        let managementStore = try await SQLiteManagementStore(directory: directory.path)
        let gatewayStore = try await SQLiteManagementStore(directory: directory.path)
        let node = try await ManagementNode.start(store: managementStore)
        let running = try RunningGateway.start(store: gatewayStore)
        defer { running.task.cancel() }
        let gateway = running.gateway
        let gatewayURL = "http://127.0.0.1:\(await gateway.port())"
        await gateway.storeSync?.waitForFirstSync()

        let imported = try await node.call(.POST, "\(environment)/apis/_import/definition", body: definition("orders"))
        try #require(imported.status == 201, "\(imported.text)")
        #expect(try await node.call(.POST, "\(environment)/apis/orders/_start").status == 204)
        #expect(
            try await node.call(.POST, "\(environment)/applications", body: #"{"id":"shop","name":"Shop"}"#).status
                == 201)
        let subscription = try await node.call(
            .POST, "\(environment)/apis/orders/subscriptions", body: #"{"planId":"orders-key","applicationId":"shop"}"#)
        try #require(subscription.status == 201 && subscription["status"] == "ACCEPTED", "\(subscription.text)")
        let key = subscription["apiKeys.key"]
        let keyID = subscription["apiKeys.id"]

        func publish(_ key: String?) async throws -> Int {
            try await httpCall(
                .POST, "\(gatewayURL)/orders", headers: key.map { [("X-Gravitee-Api-Key", $0)] } ?? [], body: "hello"
            ).status
        }
        try await eventually(within: .seconds(5), "the gateway serves the API with the key") {
            try await publish(key) == 202
        }
        #expect(try await publish(nil) == 401)
        #expect(try await publish("not-the-key-000") == 401)

        let revoked = try await node.call(
            .POST, "\(environment)/apis/orders/subscriptions/\(subscription["id"])/api-keys/\(keyID)/_revoke")
        #expect(revoked.status == 200 && revoked["revoked"] == "true")
        let took = try await eventually(within: .seconds(2), "the gateway refuses the revoked key") {
            try await publish(key) == 401
        }
        #expect(took < .seconds(2))
        // The stop reaches the gateway too.
        #expect(try await node.call(.POST, "\(environment)/apis/orders/_stop").status == 204)
        try await eventually(within: .seconds(2), "the stopped API is gone") { try await publish(key) == 404 }

        await running.stop()
        for id in gateway.registry.deployedIDs { await gateway.registry.undeploy(id: id) }
        await node.stop()
    }
}
