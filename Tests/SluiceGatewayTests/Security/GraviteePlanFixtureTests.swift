import Foundation
import Testing

@testable import SluiceCore

/// The plans of Gravitee's own fixture with a key-less and an api-key plan (../shared/reference/gravitee-v4), run
/// through the security chain: what Gravitee's integration test expects of them.
@Suite("Gravitee plan fixtures")
struct GraviteePlanFixtureTests {
    static let fixture = GraviteeCorpusTests.corpus.appendingPathComponent(
        "http/failover/api-one-circuit-breaker-per-subscription.json")

    @Test(
        "key-less serves a request without a key; a key goes to the api-key plan and its subscription",
        .enabled(
            if: FileManager.default.fileExists(atPath: fixture.path),
            "../shared/reference/gravitee-v4 is absent: the Gravitee plan fixture cannot be read")
    )
    func keylessAndAPIKey() throws {
        let value = try JSONValue.parse(json: Data(contentsOf: Self.fixture))
        let definition = try #require(APIDefinitionReader().read(value).definition)
        #expect(definition.plans.map(\.securityType) == ["key-less", "api-key"])
        let chain = SecurityChain(plans: definition.plans)
        let access = AccessSnapshot(
            AccessData(
                subscriptions: [
                    .init(
                        id: "sub", application: "app", api: definition.id, plan: "plan-apikey-id", status: .accepted,
                        startingAt: nil, endingAt: nil, metadata: [:])
                ],
                apiKeys: [
                    .init(hash: APIKeyHash(key: "fixture-key"), subscriptions: ["sub"], expireAt: nil, revoked: false)
                ]
            ))
        #expect(try chain.resolve(api: definition.id, access: access).get().id == "plan-keyless-id")
        #expect(
            try chain.resolve(.init(apiKey: "fixture-key"), api: definition.id, access: access).get().id
                == "plan-apikey-id")
        #expect(chain.resolve(.init(apiKey: "other"), api: definition.id, access: access) == .failure(.apiKeyInvalid))
    }
}
