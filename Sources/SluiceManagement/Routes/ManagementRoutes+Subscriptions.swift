import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

extension ManagementRoutes {
    func registerSubscriptions(on router: Router<ManagementRequestContext>) {
        let base = Self.environment + "/apis/:apiId/subscriptions"
        router.get(RouterPath(base)) { request, context in
            let apiID = try parameter(context, "apiId")
            _ = try await store.api(id: apiID)
            var query = QueryReader(request)
            let page = query.page()
            let statuses = query.enumerations("statuses", ManagedSubscription.Status.self)
            let applications = query.list("applicationIds")
            let plans = query.list("planIds")
            try query.check()
            let result = try await store.listSubscriptions(
                SubscriptionFilter(apiID: apiID, applicationIDs: applications, planIDs: plans, statuses: statuses),
                page: PageRequest(page: page.page, perPage: page.perPage))
            return Self.json(Representation.page(result, at: request, Representation.subscription))
        }
        router.post(RouterPath(base)) { request, context in try await createSubscription(request, context) }
        router.get(RouterPath(base + "/:subscriptionId")) { _, context in
            let subscription = try await subscription(context)
            return Self.json(Representation.subscription(subscription), version: subscription.version)
        }
        router.put(RouterPath(base + "/:subscriptionId")) { request, context in
            let current = try await subscription(context)
            try precondition(request, current: current.version)
            var body = try await RequestBody.object(of: request, limit: maxBodyBytes)
            var subscription = current
            readSubscription(&body, into: &subscription)
            try body.check("subscription")
            let stored = try await changing(request, current: current.version) {
                try await store.updateSubscription(subscription, expectedVersion: $0, context: context.change())
            }
            // As in Gravitee, a new end of the subscription is the end of its valid keys.
            if let end = stored.endingAt, end != current.endingAt {
                let keys = try await store.listAPIKeys(
                    APIKeyFilter(subscriptionID: stored.id, revoked: false), page: .all)
                for var key in keys.items
                where key.subscriptions == [stored.id] && (key.expireAt.map { $0 > Date() } ?? true) {
                    key.expireAt = end
                    _ = try? await store.updateAPIKey(
                        key, expectedVersion: key.version, context: context.change("apiKey.expiring"))
                }
            }
            return Self.json(Representation.subscription(stored), version: stored.version)
        }
        router.post(RouterPath(base + "/:subscriptionId/_accept")) { request, context in
            try await subscriptionTransition(
                request, context, to: .accepted, from: [.pending], action: "subscription.accepted")
        }
        router.post(RouterPath(base + "/:subscriptionId/_reject")) { request, context in
            try await subscriptionTransition(
                request, context, to: .rejected, from: [.pending], action: "subscription.rejected")
        }
        router.post(RouterPath(base + "/:subscriptionId/_pause")) { request, context in
            try await subscriptionTransition(
                request, context, to: .paused, from: [.accepted], action: "subscription.paused")
        }
        router.post(RouterPath(base + "/:subscriptionId/_resume")) { request, context in
            try await subscriptionTransition(
                request, context, to: .accepted, from: [.paused], action: "subscription.resumed")
        }
        router.post(RouterPath(base + "/:subscriptionId/_close")) { request, context in
            try await subscriptionTransition(
                request, context, to: .closed, from: [.accepted, .pending, .paused], action: "subscription.closed")
        }
    }

    /// The subscription the path names, which must belong to the API the path names.
    func subscription(_ context: ManagementRequestContext) async throws -> ManagedSubscription {
        let apiID = try parameter(context, "apiId")
        let id = try parameter(context, "subscriptionId")
        _ = try await store.api(id: apiID)
        let subscription = try await store.subscription(id: id)
        guard subscription.apiID == apiID else {
            throw ManagementProblem.notFound("subscription '\(id)' does not exist in API '\(apiID)'")
        }
        return subscription
    }

    /// Reads `consumerConfiguration` (a webhook subscription's callback, checked as the gateway checks it, the
    /// callback allow-list included), `metadata`, `startingAt` and `endingAt`.
    func readSubscription(_ body: inout RequestBody, into subscription: inout ManagedSubscription) {
        if let value = body.object["consumerConfiguration"] {
            if value.isNull {
                subscription.configuration = nil
            } else if let object = value.objectValue {
                var diagnostics = DiagnosticCollector()
                _ = WebhookSubscriptionConfiguration.parse(
                    object, at: JSONPath("consumerConfiguration"), policy: callbackPolicy, diagnostics: &diagnostics)
                body.problems += problems(diagnostics.diagnostics)
                subscription.configuration = value.jsonText()
            } else {
                body.problem("consumerConfiguration", "must be an object, not \(value.typeName)")
            }
        }
        if let metadata = body.stringMap("metadata") { subscription.metadata = metadata }
        if body.object["startingAt"] != nil { subscription.startingAt = body.date("startingAt") }
        if body.object["endingAt"] != nil { subscription.endingAt = body.date("endingAt") }
        if let start = subscription.startingAt, let end = subscription.endingAt, end < start {
            body.problem("endingAt", "must not be before startingAt")
        }
    }

    /// Gravitee's `POST /apis/{apiId}/subscriptions`: `planId`, `applicationId`, and for a push plan the
    /// webhook's `consumerConfiguration`. A plan whose `validation` is AUTO accepts at once; an accepted
    /// subscription to an api-key plan gets a key, whose value this answer alone shows (`apiKeys[].key`).
    func createSubscription(_ request: Request, _ context: ManagementRequestContext) async throws -> Response {
        let apiID = try parameter(context, "apiId")
        _ = try await store.api(id: apiID)
        var body = try await RequestBody.object(of: request, limit: maxBodyBytes)
        let planID = body.string("planId", required: true, maximumLength: 200)
        let applicationID = body.string("applicationId", required: true, maximumLength: 200)
        let customKey = body.string("customApiKey", maximumLength: 1000)
        if let customKey { _ = Self.checkSecret(customKey, path: "customApiKey", into: &body) }
        var subscription = ManagedSubscription(
            id: body.string("id", maximumLength: 200) ?? Self.newID(), applicationID: applicationID ?? "",
            apiID: apiID, planID: planID ?? "")
        readSubscription(&body, into: &subscription)
        try body.check("subscription")
        guard let plan = try? await store.plan(id: subscription.planID), plan.apiID == apiID else {
            throw ManagementProblem.invalid(
                path: "planId", "plan '\(subscription.planID)' does not exist in API '\(apiID)'")
        }
        guard (try? await store.application(id: subscription.applicationID)) != nil else {
            throw ManagementProblem.invalid(
                path: "applicationId", "application '\(subscription.applicationID)' does not exist")
        }
        guard plan.status == .published else {
            throw ManagementProblem.invalid(
                path: "planId", "plan '\(plan.id)' is \(plan.status.rawValue): only PUBLISHED plans take subscriptions")
        }
        if plan.securityType == "key-less" {
            throw ManagementProblem.invalid(path: "planId", "plan '\(plan.id)' is key-less: it takes no subscriptions")
        }
        let definition = Representation.parseObject(plan.definition)
        let push = definition?["mode"]?.stringValue?.uppercased() == "PUSH" || plan.securityType == nil
        if push, subscription.configuration == nil {
            throw ManagementProblem.invalid(
                path: "consumerConfiguration", "is required to subscribe to a push plan (the webhook's callback)")
        }
        let auto = definition?["validation"]?.stringValue?.uppercased() == "AUTO"
        subscription.status = auto ? .accepted : .pending
        if auto, subscription.startingAt == nil { subscription.startingAt = Date() }
        let stored = try await store.createSubscription(subscription, context: context.change())
        var answer = Representation.subscription(stored).objectValue ?? JSONObject()
        if stored.status == .accepted, plan.securityType == "api-key" {
            let (key, clear) = try await issueKey(for: stored, custom: customKey, context: context)
            answer["apiKeys"] = .array([Representation.apiKey(key, clearKey: clear)])
        }
        return Self.json(
            .object(answer), status: .created, version: stored.version,
            location: "\(Self.environment)/apis/\(apiID)/subscriptions/\(stored.id)")
    }

    /// A new key carrying `subscription`, expiring when it ends (as Gravitee's do); the clear value goes to the
    /// caller once.
    func issueKey(
        for subscription: ManagedSubscription, custom: String?, context: ManagementRequestContext
    ) async throws -> (ManagedAPIKey, String) {
        let clear = custom ?? Self.newSecret()
        let key = ManagedAPIKey(
            id: Self.newID(), applicationID: subscription.applicationID, hash: APIKeyHash(key: clear),
            subscriptions: [subscription.id], expireAt: subscription.endingAt)
        return (try await store.createAPIKey(key, context: context.change("apiKey.created")), clear)
    }

    func subscriptionTransition(
        _ request: Request, _ context: ManagementRequestContext, to status: ManagedSubscription.Status,
        from allowed: Set<ManagedSubscription.Status>, action: String
    ) async throws -> Response {
        var subscription = try await subscription(context)
        try precondition(request, current: subscription.version)
        var body = try await RequestBody.optionalObject(of: request, limit: maxBodyBytes)
        let customKey = body.string("customApiKey", maximumLength: 1000)
        if let customKey { _ = Self.checkSecret(customKey, path: "customApiKey", into: &body) }
        let reason = body.string("reason", maximumLength: 1000)
        // Gravitee's AcceptSubscription names the subscription's window.
        if action == "subscription.accepted" {
            if body.object["startingAt"] != nil { subscription.startingAt = body.date("startingAt") }
            if body.object["endingAt"] != nil { subscription.endingAt = body.date("endingAt") }
            if let start = subscription.startingAt, let end = subscription.endingAt, end < start {
                body.problem("endingAt", "must not be before startingAt")
            }
        }
        try body.check("request")
        guard allowed.contains(subscription.status) else {
            throw ManagementProblem.invalid(
                path: "status",
                "subscription '\(subscription.id)' is \(subscription.status.rawValue): it must be \(allowed.map(\.rawValue).sorted().joined(separator: " or ")) to become \(status.rawValue)"
            )
        }
        subscription.status = status
        if status == .accepted, subscription.startingAt == nil { subscription.startingAt = Date() }
        if status == .closed || status == .rejected { subscription.endingAt = subscription.endingAt ?? Date() }
        let detail = reason.map { JSONValue.object(JSONObject([("reason", .string($0))])).jsonText() }
        let change = context.change(action, detail: detail)
        let stored = try await changing(request, current: subscription.version) {
            try await store.updateSubscription(subscription, expectedVersion: $0, context: change)
        }
        var answer = Representation.subscription(stored).objectValue ?? JSONObject()
        if action == "subscription.accepted", (try? await store.plan(id: stored.planID))?.securityType == "api-key" {
            let (key, clear) = try await issueKey(for: stored, custom: customKey, context: context)
            answer["apiKeys"] = .array([Representation.apiKey(key, clearKey: clear)])
        }
        if status == .closed {
            // The keys that carried only this subscription are revoked, as Gravitee does on closing.
            let keys = try await store.listAPIKeys(APIKeyFilter(subscriptionID: stored.id, revoked: false), page: .all)
            for var key in keys.items where key.subscriptions == [stored.id] {
                key.revoked = true
                _ = try? await store.updateAPIKey(
                    key, expectedVersion: key.version, context: context.change("apiKey.revoked"))
            }
        }
        return Self.json(.object(answer), version: stored.version)
    }
}
