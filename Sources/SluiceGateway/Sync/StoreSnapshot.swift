import Foundation
public import SluiceCore
public import SluiceStore

/// What a gateway serves, as read from the management store: each STARTED API's definition with its plans merged
/// in, and the access data of every application, subscription and key.
public enum StoreSnapshot {
    /// The definition a gateway deploys for `api`: its v4 definition with `plans` replaced by the given plan rows
    /// (the caller passes the PUBLISHED and DEPRECATED ones). Each plan's `id`, `name`, `status` and `security`
    /// come from its columns. Nil, with the reason, when the stored JSON is not an object.
    public static func mergedDefinition(
        _ api: ManagedAPI, plans: [ManagedPlan]
    ) -> (definition: JSONValue?, problem: String?) {
        guard let parsed = try? JSONValue.parse(json: Data(api.definition.utf8)), case .object(var definition) = parsed
        else { return (nil, "the stored definition is not a JSON object") }
        if definition["id"] == nil { definition["id"] = .string(api.id) }
        var merged: [JSONValue] = []
        for plan in plans.sorted(by: { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }) {
            guard let parsedPlan = try? JSONValue.parse(json: Data(plan.definition.utf8)),
                case .object(var object) = parsedPlan
            else { return (nil, "plan '\(plan.id)': the stored plan is not a JSON object") }
            object["id"] = .string(plan.id)
            object["name"] = .string(plan.name)
            object["status"] = .string(plan.status.rawValue)
            if let type = plan.securityType {
                var security = JSONObject([("type", .string(type))])
                if let text = plan.securityConfiguration {
                    guard let configuration = try? JSONValue.parse(json: Data(text.utf8)) else {
                        return (nil, "plan '\(plan.id)': the stored security configuration is not JSON")
                    }
                    security["configuration"] = configuration
                }
                object["security"] = .object(security)
            }
            merged.append(.object(object))
        }
        definition["plans"] = .array(merged)
        return (.object(definition), nil)
    }

    /// The access data of the store's rows. A row that does not convert (a webhook configuration that no longer
    /// validates, say) is left out and reported; `previous` gives, by subscription id, what to keep in its place.
    public static func accessData(
        applications: [ManagedApplication], subscriptions: [ManagedSubscription], keys: [ManagedAPIKey],
        callbackPolicy: WebhookCallbackPolicy, previous: [String: AccessData.Subscription] = [:]
    ) -> (data: AccessData, problems: [(subscription: String, diagnostics: [Diagnostic])]) {
        var data = AccessData()
        var problems: [(String, [Diagnostic])] = []
        data.applications = applications.map { .init(id: $0.id, name: $0.name, clientID: $0.clientID) }
        for subscription in subscriptions {
            var webhook: WebhookSubscriptionConfiguration?
            if let text = subscription.configuration {
                var diagnostics = DiagnosticCollector()
                let path = JSONPath("subscriptions[\(subscription.id)].configuration")
                if let object = (try? JSONValue.parse(json: Data(text.utf8)))?.objectValue {
                    webhook = WebhookSubscriptionConfiguration.parse(
                        object, at: path, policy: callbackPolicy, diagnostics: &diagnostics)
                } else {
                    diagnostics.error(path, "must be a JSON object")
                }
                if diagnostics.hasErrors {
                    problems.append((subscription.id, diagnostics.diagnostics.filter { $0.severity == .error }))
                    if let kept = previous[subscription.id] { data.subscriptions.append(kept) }
                    continue
                }
            }
            data.subscriptions.append(
                AccessData.Subscription(
                    id: subscription.id, application: subscription.applicationID, api: subscription.apiID,
                    plan: subscription.planID,
                    status: AccessData.Subscription.Status(rawValue: subscription.status.rawValue)
                        ?? .closed,
                    startingAt: subscription.startingAt, endingAt: subscription.endingAt,
                    metadata: subscription.metadata, webhook: webhook))
        }
        data.apiKeys = keys.map {
            AccessData.APIKey(
                hash: $0.hash, subscriptions: $0.subscriptions, expireAt: $0.expireAt, revoked: $0.revoked)
        }
        return (data, problems)
    }
}

extension ManagementStore {
    /// Every item of a list, page by page.
    func all<Item: Sendable>(_ list: (PageRequest) async throws -> Page<Item>) async throws -> [Item] {
        var items: [Item] = []
        var page = 1
        while true {
            let result = try await list(PageRequest(page: page, perPage: PageRequest.maximumPerPage))
            items += result.items
            if result.items.count < PageRequest.maximumPerPage { return items }
            page += 1
        }
    }
}
