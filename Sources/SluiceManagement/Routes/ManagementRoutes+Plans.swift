import Foundation
import Hummingbird
import SluiceCore
import SluiceGateway
import SluiceStore

extension ManagementRoutes {
    func registerPlans(on router: Router<ManagementRequestContext>) {
        let base = Self.environment + "/apis/:apiId/plans"
        router.get(RouterPath(base)) { request, context in
            let apiID = try parameter(context, "apiId")
            _ = try await store.api(id: apiID)
            var query = QueryReader(request)
            let page = query.page()
            // As in Gravitee, a list without `statuses` is of the PUBLISHED plans.
            var statuses = query.enumerations("statuses", ManagedPlan.Status.self)
            if query.string("statuses") == nil { statuses = [.published] }
            // Gravitee's `securities` (`API_KEY,KEY_LESS`), read in either spelling.
            let securities = query.list("securities")
            for type in securities where !Self.securityTypes.contains(Representation.graviteeSecurityType(type)) {
                query.problems.append(
                    .init(
                        path: "securities",
                        message: "'\(type)' is not one of \(Self.securityTypes.sorted().joined(separator: ", "))"))
            }
            try query.check()
            let result = try await store.listPlans(
                PlanFilter(
                    apiID: apiID, statuses: statuses,
                    securityTypes: Set(securities.map(Representation.definitionSecurityType))),
                page: PageRequest(page: page.page, perPage: page.perPage))
            return Self.json(Representation.page(result, at: request, Representation.plan))
        }
        router.post(RouterPath(base)) { request, context in try await createPlan(request, context) }
        router.get(RouterPath(base + "/:planId")) { _, context in
            let plan = try await plan(context)
            return Self.json(Representation.plan(plan), version: plan.version)
        }
        router.put(RouterPath(base + "/:planId")) { request, context in try await updatePlan(request, context) }
        router.delete(RouterPath(base + "/:planId")) { request, context in
            let plan = try await plan(context)
            try await deleting(request) {
                try await store.deletePlan(id: plan.id, expectedVersion: $0, context: context.change())
            }
            return Self.noContent()
        }
        router.post(RouterPath(base + "/:planId/_publish")) { request, context in
            try await transition(request, context, to: .published, from: [.staging], action: "plan.published")
        }
        router.post(RouterPath(base + "/:planId/_deprecate")) { request, context in
            try await transition(request, context, to: .deprecated, from: [.published], action: "plan.deprecated")
        }
        router.post(RouterPath(base + "/:planId/_close")) { request, context in
            try await transition(
                request, context, to: .closed, from: [.staging, .published, .deprecated], action: "plan.closed")
        }
    }

    /// The plan security types Gravitee's v2 management API names.
    static let securityTypes: Set<String> = ["KEY_LESS", "API_KEY", "JWT", "OAUTH2", "MTLS"]

    /// The plan the path names, which must belong to the API the path names.
    func plan(_ context: ManagementRequestContext) async throws -> ManagedPlan {
        let apiID = try parameter(context, "apiId")
        let planID = try parameter(context, "planId")
        _ = try await store.api(id: apiID)
        let plan = try await store.plan(id: planID)
        guard plan.apiID == apiID else {
            throw ManagementProblem.notFound("plan '\(planID)' does not exist in API '\(apiID)'")
        }
        return plan
    }

    /// Reads a plan body (Gravitee's v2 `CreatePlanV4`/`UpdatePlanV4`) into `plan`.
    func readPlan(_ body: inout RequestBody, into plan: inout ManagedPlan, creating: Bool) {
        if let name = body.string("name", required: creating, maximumLength: 1000) { plan.name = name }
        let mode = body.string("mode")?.uppercased()
        if let mode, mode != "STANDARD", mode != "PUSH" { body.problem("mode", "must be STANDARD or PUSH") }
        if let security = body.objectValue("security") {
            var reader = RequestBody(security)
            if let type = reader.string("type", required: true, path: "security.type") {
                plan.securityType = Representation.definitionSecurityType(type)
            }
            if let configuration = security["configuration"], !configuration.isNull {
                if configuration.objectValue == nil {
                    body.problem("security.configuration", "must be an object, not \(configuration.typeName)")
                } else {
                    plan.securityConfiguration = configuration.jsonText()
                }
            } else {
                plan.securityConfiguration = nil
            }
            body.problems += reader.problems
        } else if creating, mode != "PUSH" {
            body.problem("security", "is required (a STANDARD plan says how clients are identified)")
        }
        if let validation = body.string("validation")?.uppercased(), validation != "AUTO", validation != "MANUAL" {
            body.problem("validation", "must be AUTO or MANUAL")
        }
        var definition = Representation.parseObject(plan.definition) ?? JSONObject()
        for (key, value) in body.object.entries
        where !["id", "apiId", "name", "status", "security", "createdAt", "updatedAt", "definitionVersion"]
            .contains(key)
        {
            definition[key] = value
        }
        plan.definition = JSONValue.object(definition).jsonText()
    }

    /// Checks `plan` as the gateway would deploy it, in its API's definition; problems name the plan's fields.
    func planProblems(_ plan: ManagedPlan, api: ManagedAPI) -> [ManagementProblem.FieldProblem] {
        var candidate = plan
        candidate.status = .published
        return deployProblems(api, plans: [candidate]).map {
            var path = $0.path
            if path.hasPrefix("plans[0].") {
                path.removeFirst("plans[0].".count)
            } else if path == "plans[0]" {
                path = ""
            }
            return .init(path: path, message: $0.message)
        }
    }

    func createPlan(_ request: Request, _ context: ManagementRequestContext) async throws -> Response {
        let api = try await store.api(id: try parameter(context, "apiId"))
        var body = try await RequestBody.object(of: request, limit: maxBodyBytes)
        let id = body.string("id", maximumLength: 200) ?? Self.newID()
        var plan = ManagedPlan(id: id, apiID: api.id, name: "", securityType: nil, status: .staging, definition: "{}")
        readPlan(&body, into: &plan, creating: true)
        try body.check("plan")
        let problems = planProblems(plan, api: api)
        if !problems.isEmpty { throw ManagementProblem.invalid("the plan is not valid", problems) }
        let stored = try await store.createPlan(plan, context: context.change())
        return Self.json(
            Representation.plan(stored), status: .created, version: stored.version,
            location: "\(Self.environment)/apis/\(api.id)/plans/\(id)")
    }

    func updatePlan(_ request: Request, _ context: ManagementRequestContext) async throws -> Response {
        let current = try await plan(context)
        try precondition(request, current: current.version)
        let api = try await store.api(id: current.apiID)
        var body = try await RequestBody.object(of: request, limit: maxBodyBytes)
        var plan = current
        readPlan(&body, into: &plan, creating: false)
        try body.check("plan")
        let problems = planProblems(plan, api: api)
        if !problems.isEmpty { throw ManagementProblem.invalid("the plan is not valid", problems) }
        let stored = try await changing(request, current: current.version) {
            try await store.updatePlan(plan, expectedVersion: $0, context: context.change())
        }
        return Self.json(Representation.plan(stored), version: stored.version)
    }

    func transition(
        _ request: Request, _ context: ManagementRequestContext, to status: ManagedPlan.Status,
        from allowed: Set<ManagedPlan.Status>, action: String
    ) async throws -> Response {
        var plan = try await plan(context)
        try precondition(request, current: plan.version)
        guard allowed.contains(plan.status) else {
            throw ManagementProblem.invalid(
                path: "status",
                "plan '\(plan.id)' is \(plan.status.rawValue): it must be \(allowed.map(\.rawValue).sorted().joined(separator: " or ")) to become \(status.rawValue)"
            )
        }
        if status == .published {
            let problems = planProblems(plan, api: try await store.api(id: plan.apiID))
            if !problems.isEmpty { throw ManagementProblem.invalid("the plan cannot be published", problems) }
        }
        plan.status = status
        let change = context.change(action)
        let stored = try await changing(request, current: plan.version) {
            try await store.updatePlan(plan, expectedVersion: $0, context: change)
        }
        if status == .closed {
            // Closing a plan closes its subscriptions, as in Gravitee.
            let open = try await store.listSubscriptions(
                SubscriptionFilter(planID: plan.id, statuses: [.accepted, .pending, .paused]), page: .all)
            for var subscription in open.items {
                subscription.status = .closed
                subscription.endingAt = subscription.endingAt ?? Date()
                _ = try? await store.updateSubscription(
                    subscription, expectedVersion: subscription.version,
                    context: ChangeContext(actor: change.actor, action: "subscription.closed"))
            }
        }
        return Self.json(Representation.plan(stored), version: stored.version)
    }
}
