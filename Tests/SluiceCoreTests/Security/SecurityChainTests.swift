import Foundation
import Testing

@testable import SluiceCore

@Suite("security chain")
struct SecurityChainTests {
    static func plan(
        _ id: String, _ type: String, _ status: APIDefinition.Plan.Status = .published
    )
        -> APIDefinition.Plan
    {
        APIDefinition.Plan(
            id: id, name: id, securityType: type, securityConfiguration: JSONObject(), mode: "STANDARD",
            status: status, selectionRule: nil, tags: [], flows: [], path: JSONPath("plans"))
    }

    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func access(status: AccessData.Subscription.Status = .accepted, keyExpires: Date? = nil) -> AccessSnapshot {
        AccessSnapshot(
            AccessData(
                applications: [.init(id: "app", name: "app", clientID: nil)],
                subscriptions: [
                    .init(
                        id: "sub", application: "app", api: "orders", plan: "key", status: status, startingAt: nil,
                        endingAt: nil, metadata: [:])
                ],
                apiKeys: [
                    .init(hash: APIKeyHash(key: "k1"), subscriptions: ["sub"], expireAt: keyExpires, revoked: false)
                ]
            ))
    }

    func resolve(
        _ chain: SecurityChain, key: String?, bearer: Bool = false, access: AccessSnapshot = access()
    )
        -> Result<SecurityChain.ResolvedPlan, GatewayError>
    {
        chain.resolve(
            .init(apiKey: key.map { $0[...] }, bearerToken: bearer ? "a.b.c" : nil), api: "orders", access: access,
            now: Self.now)
    }

    @Test("an API key plan: valid, missing, empty, unknown, expired, inactive subscription")
    func apiKey() throws {
        let chain = SecurityChain(plans: [Self.plan("key", "api-key")])
        let resolved = try resolve(chain, key: "k1").get()
        #expect(resolved.id == "key")
        #expect(resolved.subscription == "sub")
        #expect(resolved.application == "app")
        #expect(resolve(chain, key: nil) == .failure(.planUnresolvable))
        #expect(resolve(chain, key: "") == .failure(.apiKeyMissing))
        #expect(resolve(chain, key: "k2") == .failure(.apiKeyInvalid))
        #expect(resolve(chain, key: "k1", access: Self.access(keyExpires: Self.now)) == .failure(.apiKeyInvalid))
        #expect(resolve(chain, key: "k1", access: Self.access(status: .paused)) == .failure(.apiKeyInvalid))
        #expect(resolve(chain, key: "k1", access: .empty) == .failure(.apiKeyInvalid))
    }

    @Test("a plan with a selection rule serves nothing (fails closed) and never makes the API key-less")
    func selectionRule() throws {
        var ruled = Self.plan("open-for-some", "key-less")
        ruled.selectionRule = "{#request.headers['x-tenant'][0] == 'a'}"
        let onlyRuled = SecurityChain(plans: [ruled])
        #expect(resolve(onlyRuled, key: nil) == .failure(.planUnresolvable))
        let withKey = SecurityChain(plans: [ruled, Self.plan("key", "api-key")])
        #expect(resolve(withKey, key: nil) == .failure(.planUnresolvable))
        #expect(try resolve(withKey, key: "k1").get().id == "key")
        var blank = Self.plan("open", "key-less")
        blank.selectionRule = "  "
        #expect(try resolve(SecurityChain(plans: [blank]), key: nil).get().id == "open")
    }

    @Test("the definition reader warns about a selection rule, naming its path")
    func selectionRuleWarning() throws {
        let json = """
            { "id": "ruled", "name": "ruled", "definitionVersion": "4.0.0", "type": "message",
              "listeners": [{ "type": "http", "paths": [{ "path": "/ruled" }], "entrypoints": [{ "type": "http-post" }] }],
              "endpointGroups": [{ "name": "g", "type": "mock", "endpoints": [{ "name": "e", "type": "mock", "configuration": {} }] }],
              "plans": [{ "id": "p", "name": "p", "security": { "type": "key-less" }, "status": "PUBLISHED",
                          "selectionRule": "{#request.headers['x'][0] == 'y'}" }] }
            """
        let (definition, diagnostics) = APIDefinitionReader().read(try JSONValue.parse(json: Data(json.utf8)))
        #expect(definition?.plans.first?.hasSelectionRule == true)
        let warning = diagnostics.first { $0.path.contains("selectionRule") }
        #expect(warning?.severity == .warning, "\(diagnostics)")
        #expect(warning?.message.contains("does not evaluate") == true)
    }

    @Test("order: JWT before API key before key-less, whatever the definition's order; staging and closed skipped")
    func order() throws {
        let chain = SecurityChain(plans: [
            Self.plan("open", "key-less"), Self.plan("key", "api-key"), Self.plan("jwt", "jwt"),
            Self.plan("staged", "key-less", .staging),
        ])
        #expect(try resolve(chain, key: nil).get().id == "open")
        #expect(try resolve(chain, key: "k1").get().id == "key")
        #expect(resolve(chain, key: "bad") == .failure(.apiKeyInvalid))
        // A bearer token goes to the JWT plan, before the API key; `resolve` alone cannot verify it.
        #expect(resolve(chain, key: "k1", bearer: true) == .failure(.planUnresolvable))
        if case .bearer(let token) = chain.decide(.init(apiKey: "k1", bearerToken: "a.b.c"), api: "orders") {
            #expect(token == "a.b.c")
        } else {
            Issue.record("a bearer token on an API with a JWT plan is for the JWT plan to decide")
        }
        let keyOnly = SecurityChain(plans: [Self.plan("key", "api-key")])
        #expect(try resolve(keyOnly, key: "k1", bearer: true).get().id == "key")
        let closed = SecurityChain(plans: [
            Self.plan("open", "key-less", .closed), Self.plan("key", "api-key", .staging),
        ])
        #expect(resolve(closed, key: nil) == .failure(.planUnresolvable))
        #expect(resolve(closed, key: "k1") == .failure(.planUnresolvable))
        let deprecated = SecurityChain(plans: [Self.plan("key", "api-key", .deprecated)])
        #expect(try resolve(deprecated, key: "k1").get().id == "key")
    }

    @Test("an API without plans is key-less")
    func noPlans() throws {
        #expect(try resolve(SecurityChain(plans: []), key: "anything").get().securityType == "key-less")
    }
}
