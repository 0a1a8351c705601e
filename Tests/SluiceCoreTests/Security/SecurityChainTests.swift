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

    @Test(
        "a key that let a request in is kept: a later request with it costs a lookup, until the access data changes or the subscription's window moves"
    )
    func apiKeyCache() throws {
        let chain = SecurityChain(plans: [Self.plan("key", "api-key")])
        let ends = Self.now.addingTimeInterval(60)
        let access = AccessSnapshot(
            AccessData(
                applications: [.init(id: "app", name: "app", clientID: nil)],
                subscriptions: [
                    .init(
                        id: "sub", application: "app", api: "orders", plan: "key", status: .accepted,
                        startingAt: nil, endingAt: ends, metadata: [:]),
                    .init(
                        id: "later", application: "app", api: "orders", plan: "key", status: .accepted,
                        startingAt: ends, endingAt: nil, metadata: [:]),
                ],
                apiKeys: [
                    .init(hash: APIKeyHash(key: "k1"), subscriptions: ["sub", "later"], expireAt: nil, revoked: false)
                ]
            ))
        func resolve(_ key: String, at now: Date, with snapshot: AccessSnapshot) -> String? {
            try? chain.resolve(.init(apiKey: key[...]), api: "orders", access: snapshot, now: now).get().subscription
        }
        // Refused keys are not kept.
        #expect(resolve("guess", at: Self.now, with: access) == nil)
        #expect(chain.apiKeyCache.count == 0)
        #expect(resolve("k1", at: Self.now, with: access) == "sub")
        #expect(chain.apiKeyCache.count == 1)
        #expect(resolve("k1", at: Self.now.addingTimeInterval(59), with: access) == "sub")
        // At the end of the first subscription the cached answer no longer holds: the next one takes over.
        #expect(resolve("k1", at: ends, with: access) == "later")
        // New access data (the key revoked) is not answered from what the old data decided.
        let revoked = AccessSnapshot(
            AccessData(
                subscriptions: access.subscriptions.values.map { $0 },
                apiKeys: [
                    .init(hash: APIKeyHash(key: "k1"), subscriptions: ["sub", "later"], expireAt: nil, revoked: true)
                ]
            ))
        #expect(resolve("k1", at: ends, with: revoked) == nil)
        #expect(resolve("", at: ends, with: access) == nil)
    }

    @Test("the key cache is bounded: when full, some entries go and the new key is kept")
    func apiKeyCacheBound() {
        let cache = APIKeyCache(capacity: 20)
        let plan = SecurityChain.ResolvedPlan(id: "key", securityType: "api-key", subscription: "sub")
        for index in 0..<100 { cache.store(plan, for: "key-\(index)"[...], generation: 1, until: nil) }
        #expect(cache.count <= 20)
        #expect(cache.plan(for: "key-99", generation: 1, now: Self.now) == plan)
        #expect(cache.plan(for: "key-99", generation: 2, now: Self.now) == nil)
        #expect(cache.count <= 19)
    }

    static func tenant(_ value: String?) -> SecurityChain.Credentials {
        let headers: [(name: String, value: String)] = value.map { [("X-Tenant", $0)] } ?? []
        let scope = ExpressionScope([
            "request": .map(["headers": .object(HeadersExpressionObject(headers)), "path": .string("/orders")])
        ])
        return .init(selectionScope: { scope })
    }

    @Test("selection rules: a key-less plan whose rule is false does not take the request, the next one may")
    func selectionRule() throws {
        var ruled = Self.plan("tenant-a", "key-less")
        ruled.selectionRule = "{#request.headers['X-Tenant'][0] == 'a'}"
        let chain = SecurityChain(plans: [ruled, Self.plan("open", "key-less")])
        #expect(chain.readsCredentials)
        func resolve(_ credentials: SecurityChain.Credentials) -> String? {
            try? chain.resolve(credentials, api: "orders", access: Self.access(), now: Self.now).get().id
        }
        #expect(resolve(Self.tenant("a")) == "tenant-a")
        #expect(resolve(Self.tenant("b")) == "open")
        // No header: the rule cannot be evaluated (an index into null), which is false.
        #expect(resolve(Self.tenant(nil)) == "open")
        // A rule alone: no plan takes what it refuses, and the API never becomes key-less for it.
        let only = SecurityChain(plans: [ruled])
        #expect(only.resolve(Self.tenant("b"), api: "orders") == .failure(.planUnresolvable))
        #expect(try only.resolve(Self.tenant("a"), api: "orders").get().id == "tenant-a")
        var blank = Self.plan("open", "key-less")
        blank.selectionRule = "  "
        #expect(try SecurityChain(plans: [blank]).resolve(api: "orders").get().id == "open")
    }

    @Test("selection rules on API-key plans: a key counts only for plans whose rule selects the request")
    func apiKeySelectionRule() throws {
        var keyed = Self.plan("key", "api-key")
        keyed.selectionRule = "{#request.headers['X-Tenant'][0] == 'a'}"
        let chain = SecurityChain(plans: [keyed, Self.plan("open", "key-less")])
        var credentials = Self.tenant("a")
        credentials.apiKey = "k1"
        #expect(try chain.resolve(credentials, api: "orders", access: Self.access(), now: Self.now).get().id == "key")
        // Rule false: the API-key plan does not take the request; the key-less plan does.
        credentials = Self.tenant("b")
        credentials.apiKey = "k1"
        #expect(try chain.resolve(credentials, api: "orders", access: Self.access(), now: Self.now).get().id == "open")
    }

    @Test("a plan whose selection rule does not parse serves nothing (fails closed); a JWT plan's rule is kept")
    func unparsableSelectionRules() {
        var jwt = Self.plan("jwt", "jwt")
        jwt.selectionRule = "{#context.attributes['jwt'].claims['iss'] == 'a'}"
        var broken = Self.plan("broken", "key-less")
        broken.selectionRule = "{#request.headers['x'] ==}"
        let chain = SecurityChain(plans: [jwt, broken])
        #expect(chain.hasBearerPlans)
        #expect(chain.selectionRules.keys.sorted() == ["jwt"])
        #expect(chain.resolve(Self.tenant("a"), api: "orders") == .failure(.planUnresolvable))
    }

    @Test("the definition reader refuses a selection rule that does not parse, on every plan type")
    func selectionRuleDiagnostics() throws {
        func read(type: String, rule: String) throws -> [Diagnostic] {
            let json = """
                { "id": "ruled", "name": "ruled", "definitionVersion": "4.0.0", "type": "message",
                  "listeners": [{ "type": "http", "paths": [{ "path": "/ruled" }], "entrypoints": [{ "type": "http-post" }] }],
                  "endpointGroups": [{ "name": "g", "type": "mock", "endpoints": [{ "name": "e", "type": "mock", "configuration": {} }] }],
                  "plans": [{ "id": "p", "name": "p", "security": { "type": "\(type)" }, "status": "PUBLISHED",
                              "selectionRule": "\(rule)" }] }
                """
            return APIDefinitionReader().read(try JSONValue.parse(json: Data(json.utf8))).diagnostics
        }
        let fine = try read(type: "key-less", rule: "{#request.headers['x'][0] == 'y'}")
        #expect(!fine.contains { $0.path.contains("selectionRule") }, "\(fine)")
        let broken = try read(type: "api-key", rule: "{#request.headers['x'] ==}")
        let error = broken.first { $0.path.contains("selectionRule") }
        #expect(error?.severity == .error, "\(broken)")
        #expect(error?.message.contains("column") == true, "\(broken)")
        let jwt = try read(type: "jwt", rule: "{#context.attributes['jwt'].claims['iss'] == 'y'}")
        #expect(!jwt.contains { $0.path.contains("selectionRule") }, "\(jwt)")
        let brokenJWT = try read(type: "oauth2", rule: "{#context.attributes[}")
        #expect(brokenJWT.first { $0.path.contains("selectionRule") }?.severity == .error, "\(brokenJWT)")
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
