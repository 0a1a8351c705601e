import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

extension ManagementRoutes {
    func registerApplications(on router: Router<ManagementRequestContext>) {
        let base = Self.environment + "/applications"
        router.get(RouterPath(base)) { request, _ in
            var query = QueryReader(request)
            let page = query.page()
            let name = query.string("query")
            let clientID = query.string("clientId")
            try query.check()
            let result = try await store.listApplications(
                ApplicationFilter(nameContains: name, clientID: clientID),
                page: PageRequest(page: page.page, perPage: page.perPage))
            return Self.json(Representation.page(result, at: request, Representation.application))
        }
        router.post(RouterPath(base)) { request, context in
            var body = try await RequestBody.object(of: request, limit: maxBodyBytes)
            let id = body.string("id", maximumLength: 200) ?? Self.newID()
            var application = ManagedApplication(id: id, name: "")
            readApplication(&body, into: &application, creating: true)
            try body.check("application")
            let stored = try await store.createApplication(application, context: context.change())
            return Self.json(
                Representation.application(stored), status: .created, version: stored.version,
                location: "\(base)/\(id)")
        }
        router.get(RouterPath(base + "/:applicationId")) { _, context in
            let application = try await store.application(id: try parameter(context, "applicationId"))
            return Self.json(Representation.application(application), version: application.version)
        }
        router.put(RouterPath(base + "/:applicationId")) { request, context in
            let current = try await store.application(id: try parameter(context, "applicationId"))
            var body = try await RequestBody.object(of: request, limit: maxBodyBytes)
            var application = current
            readApplication(&body, into: &application, creating: false)
            try body.check("application")
            let stored = try await changing(request, current: current.version) {
                try await store.updateApplication(application, expectedVersion: $0, context: context.change())
            }
            return Self.json(Representation.application(stored), version: stored.version)
        }
        router.delete(RouterPath(base + "/:applicationId")) { request, context in
            let id = try parameter(context, "applicationId")
            try await deleting(request) {
                try await store.deleteApplication(id: id, expectedVersion: $0, context: context.change())
            }
            return Self.noContent()
        }
        router.get(RouterPath(base + "/:applicationId/subscriptions")) { request, context in
            let id = try parameter(context, "applicationId")
            _ = try await store.application(id: id)
            var query = QueryReader(request)
            let page = query.page()
            let statuses = query.enumerations("statuses", ManagedSubscription.Status.self)
            try query.check()
            let result = try await store.listSubscriptions(
                SubscriptionFilter(applicationID: id, statuses: statuses),
                page: PageRequest(page: page.page, perPage: page.perPage))
            return Self.json(Representation.page(result, at: request, Representation.subscription))
        }
        router.get(RouterPath(base + "/:applicationId/api-keys")) { request, context in
            let id = try parameter(context, "applicationId")
            _ = try await store.application(id: id)
            var query = QueryReader(request)
            let page = query.page()
            let revoked = query.bool("revoked")
            try query.check()
            let result = try await store.listAPIKeys(
                APIKeyFilter(applicationID: id, revoked: revoked),
                page: PageRequest(page: page.page, perPage: page.perPage))
            return Self.json(Representation.page(result, at: request) { Representation.apiKey($0) })
        }
    }

    /// Reads Gravitee's application fields: `name`, `description`, and the client id of its tokens in
    /// `settings.app.client_id` (or `settings.oauth.client_id`).
    func readApplication(_ body: inout RequestBody, into application: inout ManagedApplication, creating: Bool) {
        if let name = body.string("name", required: creating, maximumLength: 1000) { application.name = name }
        if body.object["description"] != nil {
            application.description = body.string("description", maximumLength: 10_000)
        }
        if let settings = body.objectValue("settings") {
            for section in ["app", "oauth"] {
                guard let value = settings[section], !value.isNull else { continue }
                guard let object = value.objectValue else {
                    body.problem("settings.\(section)", "must be an object, not \(value.typeName)")
                    continue
                }
                var reader = RequestBody(object)
                if object["client_id"] != nil {
                    application.clientID = reader.string(
                        "client_id", maximumLength: 1000, path: "settings.\(section).client_id")
                }
                body.problems += reader.problems
            }
        }
    }
}
