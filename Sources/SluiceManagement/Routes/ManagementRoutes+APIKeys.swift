import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

extension ManagementRoutes {
    func registerAPIKeys(on router: Router<ManagementRequestContext>) {
        let base = Self.environment + "/apis/:apiId/subscriptions/:subscriptionId/api-keys"
        router.get(RouterPath(base)) { request, context in
            let subscription = try await subscription(context)
            var query = QueryReader(request)
            let page = query.page()
            let revoked = query.bool("revoked")
            try query.check()
            let result = try await store.listAPIKeys(
                APIKeyFilter(subscriptionID: subscription.id, revoked: revoked),
                page: PageRequest(page: page.page, perPage: page.perPage))
            return Self.json(Representation.page(result) { Representation.apiKey($0) })
        }
        router.post(RouterPath(base + "/_renew")) { request, context in
            let subscription = try await subscription(context)
            var body = try await RequestBody.optionalObject(of: request, limit: maxBodyBytes)
            let customKey = body.string("customApiKey", maximumLength: 1000)
            if let customKey { _ = Self.checkSecret(customKey, path: "customApiKey", into: &body) }
            try body.check("request")
            guard subscription.status == .accepted || subscription.status == .paused else {
                throw ManagementProblem.invalid(
                    path: "status",
                    "subscription '\(subscription.id)' is \(subscription.status.rawValue): keys are issued to ACCEPTED or PAUSED subscriptions"
                )
            }
            guard (try await store.plan(id: subscription.planID)).securityType == "api-key" else {
                throw ManagementProblem.invalid(
                    path: "planId", "subscription '\(subscription.id)' is not to an api-key plan: it has no keys")
            }
            let (key, clear) = try await issueKey(for: subscription, custom: customKey, context: context)
            return Self.json(
                Representation.apiKey(key, clearKey: clear), status: .created, version: key.version,
                location:
                    "\(Self.environment)/apis/\(subscription.apiID)/subscriptions/\(subscription.id)/api-keys/\(key.id)"
            )
        }
        router.get(RouterPath(base + "/:apiKeyId")) { _, context in
            let key = try await apiKey(context)
            return Self.json(Representation.apiKey(key), version: key.version)
        }
        router.post(RouterPath(base + "/:apiKeyId/_revoke")) { request, context in
            var key = try await apiKey(context)
            guard !key.revoked else { return Self.json(Representation.apiKey(key), version: key.version) }
            key.revoked = true
            let stored = try await changing(request, current: key.version) {
                try await store.updateAPIKey(key, expectedVersion: $0, context: context.change("apiKey.revoked"))
            }
            return Self.json(Representation.apiKey(stored), version: stored.version)
        }
    }

    /// The key the path names, which must carry the subscription the path names.
    func apiKey(_ context: ManagementRequestContext) async throws -> ManagedAPIKey {
        let subscription = try await subscription(context)
        let id = try parameter(context, "apiKeyId")
        let key = try await store.apiKey(id: id)
        guard key.subscriptions.contains(subscription.id) else {
            throw ManagementProblem.notFound("API key '\(id)' does not belong to subscription '\(subscription.id)'")
        }
        return key
    }
}
