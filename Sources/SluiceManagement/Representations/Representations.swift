import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// How the management API writes its resources: Gravitee's v2 management API field names, dates in ISO 8601.
enum Representation {
    static func date(_ date: Date?) -> JSONValue { date.map { .string(Dates.text($0)) } ?? .null }

    static func parseObject(_ text: String?) -> JSONObject? {
        guard let text, let value = try? JSONValue.parse(json: Data(text.utf8)) else { return nil }
        return value.objectValue
    }

    static func reference(_ id: String) -> JSONValue { .object(JSONObject([("id", .string(id))])) }

    /// An API: its v4 definition (without plans, which are resources of their own) and its state. Its
    /// `definitionVersion` is written `V4`, as Gravitee's v2 management API writes it (and as its clients tell the
    /// kinds of API apart); the definition files' `4.0.0` is read back as the same.
    static func api(_ api: ManagedAPI) -> JSONValue {
        var object = parseObject(api.definition) ?? JSONObject()
        object["plans"] = nil
        object["definitionVersion"] = .string("V4")
        object["id"] = .string(api.id)
        object["name"] = .string(api.name)
        object["state"] = .string(api.lifecycleState.rawValue)
        object["deploymentRevision"] = .number(Double(api.deploymentRevision))
        object["createdAt"] = date(api.createdAt)
        object["updatedAt"] = date(api.updatedAt)
        return .object(object)
    }

    /// A plan security type as Gravitee's v2 management API writes it (`API_KEY`) from the definition's
    /// (`api-key`).
    static func graviteeSecurityType(_ type: String) -> String {
        type.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// The definition's security type (`api-key`) from either spelling.
    static func definitionSecurityType(_ type: String) -> String {
        type.lowercased().replacingOccurrences(of: "_", with: "-")
    }

    static func plan(_ plan: ManagedPlan) -> JSONValue {
        var object = parseObject(plan.definition) ?? JSONObject()
        object["id"] = .string(plan.id)
        object["apiId"] = .string(plan.apiID)
        object["name"] = .string(plan.name)
        object["definitionVersion"] = .string("V4")
        object["status"] = .string(plan.status.rawValue)
        if let type = plan.securityType {
            var security = JSONObject([("type", .string(graviteeSecurityType(type)))])
            if let configuration = parseObject(plan.securityConfiguration) {
                security["configuration"] = .object(configuration)
            }
            object["security"] = .object(security)
        } else {
            object["security"] = nil
        }
        if object["mode"] == nil { object["mode"] = .string(plan.securityType == nil ? "PUSH" : "STANDARD") }
        if object["validation"] == nil { object["validation"] = .string("MANUAL") }
        object["createdAt"] = date(plan.createdAt)
        object["updatedAt"] = date(plan.updatedAt)
        return .object(object)
    }

    static func application(_ application: ManagedApplication) -> JSONValue {
        var object = JSONObject([("id", .string(application.id)), ("name", .string(application.name))])
        if let description = application.description { object["description"] = .string(description) }
        var app = JSONObject()
        if let clientID = application.clientID { app["client_id"] = .string(clientID) }
        object["settings"] = .object(JSONObject([("app", .object(app))]))
        object["createdAt"] = date(application.createdAt)
        object["updatedAt"] = date(application.updatedAt)
        return .object(object)
    }

    static func subscription(_ subscription: ManagedSubscription) -> JSONValue {
        var object = JSONObject([
            ("id", .string(subscription.id)), ("api", reference(subscription.apiID)),
            ("plan", reference(subscription.planID)), ("application", reference(subscription.applicationID)),
            ("status", .string(subscription.status.rawValue)),
        ])
        if let configuration = parseObject(subscription.configuration) {
            object["consumerConfiguration"] = .object(configuration)
        }
        object["metadata"] = .object(
            JSONObject(subscription.metadata.keys.sorted().map { ($0, .string(subscription.metadata[$0]!)) }))
        object["startingAt"] = date(subscription.startingAt)
        object["endingAt"] = date(subscription.endingAt)
        object["createdAt"] = date(subscription.createdAt)
        object["updatedAt"] = date(subscription.updatedAt)
        return .object(object)
    }

    /// An API key; `clearKey` only in the answer that creates it (the store keeps only the digest).
    static func apiKey(_ key: ManagedAPIKey, clearKey: String? = nil) -> JSONValue {
        var object = JSONObject([("id", .string(key.id))])
        if let clearKey { object["key"] = .string(clearKey) }
        object["application"] = reference(key.applicationID)
        object["subscriptions"] = .array(key.subscriptions.map(reference))
        object["revoked"] = .bool(key.revoked)
        object["expired"] = .bool(key.expireAt.map { $0 <= Date() } ?? false)
        object["revokedAt"] = date(key.revokedAt)
        object["expireAt"] = date(key.expireAt)
        object["createdAt"] = date(key.createdAt)
        object["updatedAt"] = date(key.updatedAt)
        return .object(object)
    }

    /// A management user; `token` only in the answer that creates or renews it.
    static func user(_ user: ManagementUser, token: String? = nil) -> JSONValue {
        var object = JSONObject([
            ("id", .string(user.id)), ("name", .string(user.name)), ("role", .string(user.role.rawValue)),
        ])
        if let token { object["token"] = .string(token) }
        object["createdAt"] = date(user.createdAt)
        object["updatedAt"] = date(user.updatedAt)
        return .object(object)
    }

    static func audit(_ entry: AuditEntry) -> JSONValue {
        var object = JSONObject([
            ("id", .string(String(entry.sequence))), ("createdAt", date(entry.at)), ("user", .string(entry.actor)),
            ("event", .string(entry.action)),
            (
                "reference",
                .object(
                    JSONObject([("type", .string(entry.resourceType.rawValue)), ("id", .string(entry.resourceID))]))
            ),
        ])
        if let detail = parseObject(entry.detail) { object["properties"] = .object(detail) }
        return .object(object)
    }

    /// A page of a list as Gravitee's v2 management API writes it: `data`, `pagination` and `links`.
    static func page<Item>(_ page: Page<Item>, at request: Request, _ item: (Item) -> JSONValue) -> JSONValue {
        .object(
            JSONObject([
                ("data", .array(page.items.map(item))),
                (
                    "pagination",
                    .object(
                        JSONObject([
                            ("page", .number(Double(page.page))), ("perPage", .number(Double(page.perPage))),
                            ("pageCount", .number(Double(page.pageCount))),
                            ("pageItemsCount", .number(Double(page.items.count))),
                            ("totalCount", .number(Double(page.totalCount))),
                        ]))
                ),
                ("links", links(page, at: request)),
            ]))
    }

    /// Gravitee's pagination links: `self` always; `first`, `last`, and `previous`/`next` where they exist when
    /// there is more than one page. Links are the request's path and query with `page` (and `perPage` when the
    /// request named it) set; the path is relative to the server, which does not know the name clients use for it.
    static func links<Item>(_ page: Page<Item>, at request: Request) -> JSONValue {
        let path = request.uri.path
        let query = request.uri.query ?? ""
        var links = JSONObject([("self", .string(query.isEmpty ? path : "\(path)?\(query)"))])
        guard page.pageCount > 1, page.page <= page.pageCount else { return .object(links) }
        let items = query.split(separator: "&", omittingEmptySubsequences: true).map(String.init)
        func link(_ number: Int) -> JSONValue {
            var parts = items
            if let index = parts.firstIndex(where: { $0.hasPrefix("page=") || $0 == "page" }) {
                parts[index] = "page=\(number)"
            } else {
                parts.append("page=\(number)")
            }
            if let index = parts.firstIndex(where: { $0.hasPrefix("perPage=") }) {
                parts[index] = "perPage=\(page.perPage)"
            }
            return .string("\(path)?\(parts.joined(separator: "&"))")
        }
        links["first"] = link(1)
        links["last"] = link(page.pageCount)
        if page.page > 1 { links["previous"] = link(page.page - 1) }
        if page.page < page.pageCount { links["next"] = link(page.page + 1) }
        return .object(links)
    }
}
