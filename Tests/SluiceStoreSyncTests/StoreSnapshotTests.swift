import Foundation
import SluiceCore
import SluiceGateway
import SluiceStore
import Testing

/// How store rows become what a gateway serves, without a gateway.
@Suite("store snapshot")
struct StoreSnapshotTests {
    @Test("plan rows replace the definition's plans; their columns win over their JSON; order is by creation")
    func mergedPlans() throws {
        let api = ManagedAPI(
            id: "orders", name: "Orders",
            definition: definition("orders").replacingOccurrences(
                of: #""plans":[]"#, with: #""plans":[{"id":"stale","name":"Stale","status":"PUBLISHED"}]"#
            )
            .replacingOccurrences(of: #""id":"orders","#, with: ""))
        let newer = ManagedPlan(
            id: "jwt", apiID: "orders", name: "JWT", securityType: "jwt",
            securityConfiguration:
                #"{"signature":"HMAC_HS256","resolverParameter":"an-hmac-secret-of-at-least-32-bytes!!"}"#,
            status: .deprecated,
            definition:
                #"{"id":"wrong","name":"wrong","status":"CLOSED","security":{"type":"key-less"},"mode":"STANDARD","selectionRule":"{#request.headers['x'] != null}"}"#,
            createdAt: Date(timeIntervalSince1970: 20))
        let older = ManagedPlan(
            id: "key", apiID: "orders", name: "Key", securityType: "api-key", status: .published,
            definition: #"{"mode":"STANDARD"}"#, createdAt: Date(timeIntervalSince1970: 10))
        let (merged, problem) = StoreSnapshot.mergedDefinition(api, plans: [newer, older])
        #expect(problem == nil)
        let value = try #require(merged)
        #expect(value["id"]?.stringValue == "orders")  // given by the row when the JSON has none
        let plans = value["plans"]?.arrayValue ?? []
        #expect(plans.map { $0["id"]?.stringValue } == ["key", "jwt"])
        #expect(plans[1]["name"]?.stringValue == "JWT" && plans[1]["status"]?.stringValue == "DEPRECATED")
        #expect(plans[1]["security"]?["type"]?.stringValue == "jwt")
        #expect(plans[1]["security"]?["configuration"]?["signature"]?.stringValue == "HMAC_HS256")
        #expect(plans[1]["selectionRule"]?.stringValue == "{#request.headers['x'] != null}")
        #expect(plans[0]["security"]?["configuration"] == nil)
        // The gateway's loader takes the result.
        let loaded = DefinitionLoader(catalog: .gateway).load(value: value, source: "test")
        #expect(loaded.isDeployable, "\(loaded.diagnostics)")
        #expect(loaded.definition?.plans.map(\.id) == ["key", "jwt"])

        let broken = StoreSnapshot.mergedDefinition(
            ManagedAPI(id: "x", name: "x", definition: "[]"), plans: [])
        #expect(broken.definition == nil && broken.problem != nil)
    }

    @Test("access data from rows; a webhook configuration that no longer validates keeps the subscription's last state")
    func accessData() throws {
        let applications = [ManagedApplication(id: "shop", name: "Shop", clientID: "shop-client")]
        let good = ManagedSubscription(
            id: "push", applicationID: "shop", apiID: "orders", planID: "push-plan", status: .accepted,
            metadata: ["k": "v"],
            configuration:
                #"{"entrypointId":"webhook","entrypointConfiguration":{"callbackUrl":"https://hooks.example/in"}}"#)
        let keys = [
            ManagedAPIKey(
                id: "key", applicationID: "shop", hash: APIKeyHash(key: "k1"), subscriptions: ["push"],
                expireAt: Date(timeIntervalSince1970: 4_000_000_000), revoked: true)
        ]
        let (data, problems) = StoreSnapshot.accessData(
            applications: applications, subscriptions: [good], keys: keys, callbackPolicy: .init())
        #expect(problems.isEmpty)
        #expect(data.applications.map(\.clientID) == ["shop-client"])
        #expect(data.subscriptions.first?.webhook?.callbackURL.absoluteString == "https://hooks.example/in")
        #expect(data.subscriptions.first?.metadata == ["k": "v"])
        #expect(data.apiKeys.first?.revoked == true && data.apiKeys.first?.subscriptions == ["push"])

        var bad = good
        bad.configuration = #"{"entrypointId":"webhook","entrypointConfiguration":{"callbackUrl":"ftp://nowhere"}}"#
        bad.status = .paused
        let previous = Dictionary(uniqueKeysWithValues: data.subscriptions.map { ($0.id, $0) })
        let (kept, refused) = StoreSnapshot.accessData(
            applications: applications, subscriptions: [bad], keys: keys, callbackPolicy: .init(), previous: previous)
        #expect(refused.map(\.subscription) == ["push"])
        #expect(kept.subscriptions.first?.status == .accepted)  // the last state that converted
        let (dropped, _) = StoreSnapshot.accessData(
            applications: applications, subscriptions: [bad], keys: keys, callbackPolicy: .init())
        #expect(dropped.subscriptions.isEmpty)  // nothing to keep: left out, never let through half-read
    }
}
