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
            return Self.json(Representation.page(result, at: request) { Representation.apiKey($0) })
        }
        router.post(RouterPath(base + "/_renew")) { request, context in try await renewKey(request, context) }
        router.get(RouterPath(base + "/:apiKeyId")) { _, context in
            let key = try await apiKey(context)
            return Self.json(Representation.apiKey(key), version: key.version)
        }
        router.put(RouterPath(base + "/:apiKeyId")) { request, context in
            var key = try await apiKey(context)
            try precondition(request, current: key.version)
            var body = try await RequestBody.object(of: request, limit: maxBodyBytes)
            key.expireAt = body.date("expireAt")
            try body.check("API key")
            let stored = try await changing(request, current: key.version) {
                try await store.updateAPIKey(key, expectedVersion: $0, context: context.change())
            }
            return Self.json(Representation.apiKey(stored), version: stored.version)
        }
        router.post(RouterPath(base + "/:apiKeyId/_revoke")) { request, context in
            var key = try await apiKey(context)
            try precondition(request, current: key.version)
            guard !key.revoked else { return Self.json(Representation.apiKey(key), version: key.version) }
            key.revoked = true
            let stored = try await changing(request, current: key.version) {
                try await store.updateAPIKey(key, expectedVersion: $0, context: context.change("apiKey.revoked"))
            }
            return Self.json(Representation.apiKey(stored), version: stored.version)
        }
        router.post(RouterPath(base + "/:apiKeyId/_reactivate")) { request, context in
            try await reactivateKey(request, context)
        }
    }

    /// Gravitee's renewal: a new key (its value in this answer only), and the subscription's other keys that are
    /// still valid expire two hours later (or when the subscription ends, if sooner), so that clients can move to
    /// the new one.
    func renewKey(_ request: Request, _ context: ManagementRequestContext) async throws -> Response {
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
        let previous = try await store.listAPIKeys(
            APIKeyFilter(subscriptionID: subscription.id, revoked: false), page: .all
        ).items
        let (key, clear) = try await issueKey(for: subscription, custom: customKey, context: context)
        var expiry = key.createdAt.addingTimeInterval(Self.renewalGrace)
        if let end = subscription.endingAt, end < expiry { expiry = max(end, Date()) }
        for var old in previous where old.id != key.id {
            if let current = old.expireAt, current <= expiry { continue }
            old.expireAt = expiry
            _ = try await store.updateAPIKey(
                old, expectedVersion: old.version, context: context.change("apiKey.expiring"))
        }
        return Self.json(Representation.apiKey(key, clearKey: clear), version: key.version)
    }

    /// How long the keys a renewal replaces stay valid. Gravitee's: 2 hours.
    static let renewalGrace: TimeInterval = 2 * 60 * 60

    /// Gravitee's reactivation of a revoked or expired key: valid again until its subscription ends; the
    /// subscription must be ACCEPTED or PAUSED. A key that is valid already is answered as it is.
    func reactivateKey(_ request: Request, _ context: ManagementRequestContext) async throws -> Response {
        let subscription = try await subscription(context)
        var key = try await apiKey(context)
        try precondition(request, current: key.version)
        let expired = key.expireAt.map { $0 <= Date() } ?? false
        guard key.revoked || expired else { return Self.json(Representation.apiKey(key), version: key.version) }
        guard subscription.status == .accepted || subscription.status == .paused else {
            throw ManagementProblem.invalid(
                path: "status",
                "subscription '\(subscription.id)' is \(subscription.status.rawValue): keys are reactivated for ACCEPTED or PAUSED subscriptions"
            )
        }
        key.revoked = false
        key.expireAt = subscription.endingAt
        let stored = try await changing(request, current: key.version) {
            try await store.updateAPIKey(key, expectedVersion: $0, context: context.change("apiKey.reactivated"))
        }
        return Self.json(Representation.apiKey(stored), version: stored.version)
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
