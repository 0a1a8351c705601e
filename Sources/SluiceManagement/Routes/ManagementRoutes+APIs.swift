import Foundation
import Hummingbird
import SluiceCore
import SluiceGateway
import SluiceStore

extension ManagementRoutes {
    func registerAPIs(on router: Router<ManagementRequestContext>) {
        let base = Self.environment + "/apis"
        router.get(RouterPath(base)) { request, _ in try await listAPIs(request) }
        router.post(RouterPath(base)) { request, context in try await importAPI(request, context) }
        router.post(RouterPath(base + "/_import/definition")) { request, context in
            try await importAPI(request, context)
        }
        router.get(RouterPath(base + "/:apiId")) { _, context in
            let api = try await store.api(id: try parameter(context, "apiId"))
            return Self.json(Representation.api(api), version: api.version)
        }
        router.put(RouterPath(base + "/:apiId")) { request, context in try await updateAPI(request, context) }
        router.put(RouterPath(base + "/:apiId/_import/definition")) { request, context in
            try await updateAPIFromDefinition(request, context)
        }
        router.delete(RouterPath(base + "/:apiId")) { request, context in
            let api = try await store.api(id: try parameter(context, "apiId"))
            if api.lifecycleState == .started {
                throw ManagementProblem.conflict(
                    "API '\(api.id)' is started: stop it (POST …/_stop) before deleting it")
            }
            try await deleting(request) {
                try await store.deleteAPI(id: api.id, expectedVersion: $0, context: context.change())
            }
            return Self.noContent()
        }
        router.post(RouterPath(base + "/:apiId/_start")) { request, context in
            try await setState(.started, request, context)
        }
        router.post(RouterPath(base + "/:apiId/_stop")) { request, context in
            try await setState(.stopped, request, context)
        }
        router.post(RouterPath(base + "/:apiId/deployments")) { request, context in
            var api = try await store.api(id: try parameter(context, "apiId"))
            try precondition(request, current: api.version)
            let body = try await RequestBody.optionalObject(of: request, limit: maxBodyBytes)
            var reader = body
            let label = reader.string("deploymentLabel", maximumLength: 200)
            try reader.check("deployment")
            try await checkDeployable(api)
            api.deploymentRevision += 1
            let detail = label.map { JSONValue.object(JSONObject([("deploymentLabel", .string($0))])).jsonText() }
            let current = api.version
            let stored = try await changing(request, current: current) {
                try await store.updateAPI(
                    api, expectedVersion: $0, context: context.change("api.deployed", detail: detail))
            }
            return Self.json(Representation.api(stored), status: .accepted, version: stored.version)
        }
        router.get(RouterPath(base + "/:apiId/_export/definition")) { _, context in
            let api = try await store.api(id: try parameter(context, "apiId"))
            return Self.json(try await exportDefinition(api))
        }
        router.get(RouterPath(base + "/:apiId/asyncapi")) { _, context in
            try await asyncAPI(try parameter(context, "apiId"))
        }
        router.get("/management/v2/apis/:apiId/asyncapi") { _, context in
            try await asyncAPI(try parameter(context, "apiId"))
        }
    }

    func listAPIs(_ request: Request) async throws -> Response {
        var query = QueryReader(request)
        let page = query.page()
        let state = query.enumeration("state", ManagedAPI.LifecycleState.self)
        let name = query.string("q")
        try query.check()
        let result = try await store.listAPIs(
            APIFilter(lifecycleState: state, nameContains: name),
            page: PageRequest(page: page.page, perPage: page.perPage))
        return Self.json(Representation.page(result, at: request, Representation.api))
    }

    /// The definition a gateway would deploy for `api` with `plans` (each as its row says), checked by the
    /// gateway's own loader.
    func deployProblems(_ api: ManagedAPI, plans: [ManagedPlan]) -> [ManagementProblem.FieldProblem] {
        let (merged, problem) = StoreSnapshot.mergedDefinition(api, plans: plans)
        guard let merged else { return [.init(path: "", message: problem ?? "the definition is not a JSON object")] }
        return problems(loader.load(value: merged, source: api.id).diagnostics)
    }

    func servedPlans(of apiID: String) async throws -> [ManagedPlan] {
        try await store.listPlans(
            PlanFilter(apiID: apiID, statuses: [.published, .deprecated]), page: .all
        ).items
    }

    func checkDeployable(_ api: ManagedAPI) async throws {
        let problems = deployProblems(api, plans: try await servedPlans(of: api.id))
        if !problems.isEmpty {
            throw ManagementProblem.invalid("API '\(api.id)' cannot be deployed: its definition is not valid", problems)
        }
    }

    /// Gravitee's v4 definitions write `definitionVersion` as `4.0.0`; its v2 management API as `V4`. Both are
    /// kept as the gateway reads them.
    static func normalizeVersion(_ object: inout JSONObject) {
        if let version = object["definitionVersion"]?.stringValue, version.uppercased() == "V4" {
            object["definitionVersion"] = .string("4.0.0")
        }
    }

    /// The fields the API's answers add to its definition, which a client may send back unchanged.
    static let derivedFields = ["state", "deploymentRevision", "createdAt", "updatedAt"]

    /// The request's v4 definition, bare or unwrapped from Gravitee's export form, and the path prefix its
    /// problems are reported under (`api.` for the export form).
    func definitionBody(_ request: Request) async throws -> (JSONObject, String) {
        let value = try await RequestBody.value(of: request, limit: maxBodyBytes)
        guard case .object(let root) = value else {
            throw ManagementProblem.invalid(
                path: "", "must be a JSON object (a v4 API definition), not \(value.typeName)")
        }
        return Self.unwrapped(root)
    }

    /// Creates an API from a v4 definition, bare or wrapped as Gravitee exports it (`{"api": {...}, "plans":
    /// [...]}`): the definition is checked by the gateway's loader, its plans become plan resources. The API is
    /// STOPPED until started.
    func importAPI(_ request: Request, _ context: ManagementRequestContext) async throws -> Response {
        let (body, prefix) = try await definitionBody(request)
        var definition = body
        var problems: [ManagementProblem.FieldProblem] = []
        if let id = definition["id"], id.stringValue == nil {
            problems.append(
                .init(path: prefix.isEmpty ? "id" : "api.id", message: "must be a string, not \(id.typeName)"))
        }
        let id = definition["id"]?.stringValue ?? Self.newID()
        definition["id"] = .string(id)
        let loaded = loader.load(value: .object(definition), source: id)
        for problem in self.problems(loaded.diagnostics) {
            let path = problem.path.hasPrefix("plans") || prefix.isEmpty ? problem.path : "\(prefix).\(problem.path)"
            problems.append(.init(path: path, message: problem.message))
        }
        if !problems.isEmpty { throw ManagementProblem.invalid("the API definition is not valid", problems) }
        let plans = definition["plans"]?.arrayValue ?? []
        definition["plans"] = .array([])
        let name = definition["name"]?.stringValue ?? id
        let api = ManagedAPI(
            id: id, name: name, definition: JSONValue.object(definition).jsonText(), lifecycleState: .stopped)
        var rows: [ManagedPlan] = []
        for plan in plans {
            guard let object = plan.objectValue else { continue }
            // Plan ids are unique across APIs: a taken one (an API imported twice under two ids) gets a new one.
            var planID = object["id"]?.stringValue ?? Self.newID()
            let taken = (try? await store.plan(id: planID)) != nil
            if taken || rows.contains(where: { $0.id == planID }) { planID = Self.newID() }
            rows.append(Self.planRow(object, id: planID, apiID: id))
        }
        // The API and its plans in one transaction: all of them, or nothing.
        let (created, _) = try await store.importAPI(api, plans: rows, context: context.change("api.imported"))
        return Self.json(
            Representation.api(created), status: .created, version: created.version,
            location: "\(Self.environment)/apis/\(id)")
    }

    /// The definition in a body: bare, or wrapped as Gravitee exports it (`{"api": {...}, "plans": [...]}`, its plans
    /// put back in it), without the answers' own fields; and the prefix of its problems' paths (`api`, or none).
    static func unwrapped(_ root: JSONObject) -> (JSONObject, String) {
        var definition = root
        var prefix = ""
        if root["definitionVersion"] == nil, let wrapped = root["api"]?.objectValue {
            definition = wrapped
            prefix = "api"
            if let plans = root["plans"] { definition["plans"] = plans }
        }
        for field in Self.derivedFields { definition[field] = nil }
        Self.normalizeVersion(&definition)
        return (definition, prefix)
    }

    /// A plan row from a plan of a definition (PUBLISHED unless it says otherwise).
    static func planRow(_ plan: JSONObject, id: String, apiID: String) -> ManagedPlan {
        var object = plan
        let security = object["security"]?.objectValue
        for field in ["id", "name", "status", "security", "apiId", "createdAt", "updatedAt"] { object[field] = nil }
        return ManagedPlan(
            id: id, apiID: apiID, name: plan["name"]?.stringValue ?? id,
            securityType: security?["type"]?.stringValue.map(Representation.definitionSecurityType),
            securityConfiguration: security?["configuration"].map { $0.jsonText() },
            status: plan["status"]?.stringValue.flatMap { ManagedPlan.Status(rawValue: $0.uppercased()) }
                ?? .published,
            definition: JSONValue.object(object).jsonText())
    }

    /// Gravitee's `PUT /apis/{apiId}/_import/definition`: the API's definition replaced by one given bare or as
    /// exported. When it names plans, they become the API's plans, as in Gravitee: a plan the API has (by id) is
    /// updated, a new one is created, and a plan it no longer names is deleted with its subscriptions. Everything
    /// is checked, as the gateway would deploy it, before anything changes.
    func updateAPIFromDefinition(_ request: Request, _ context: ManagementRequestContext) async throws -> Response {
        let current = try await store.api(id: try parameter(context, "apiId"))
        try precondition(request, current: current.version)
        let (body, prefix) = try await definitionBody(request)
        var definition = body
        let idPath = prefix.isEmpty ? "id" : "api.id"
        var problems: [ManagementProblem.FieldProblem] = []
        if let id = definition["id"], id.stringValue != current.id {
            problems.append(.init(path: idPath, message: "must be the API's id '\(current.id)'"))
        }
        definition["id"] = .string(current.id)
        let planValues = definition["plans"]?.arrayValue ?? []
        let existing = try await store.listPlans(PlanFilter(apiID: current.id), page: .all).items
        var rows: [ManagedPlan] = []
        for (index, plan) in planValues.enumerated() {
            guard let object = plan.objectValue else {
                problems.append(.init(path: "plans[\(index)]", message: "must be an object, not \(plan.typeName)"))
                continue
            }
            var row = Self.planRow(object, id: object["id"]?.stringValue ?? Self.newID(), apiID: current.id)
            if rows.contains(where: { $0.id == row.id }) {
                problems.append(.init(path: "plans[\(index)].id", message: "'\(row.id)' names two plans"))
            } else if let old = existing.first(where: { $0.id == row.id }) {
                if object["status"] == nil { row.status = old.status }
                row.createdAt = old.createdAt
                row.version = old.version
            } else if (try? await store.plan(id: row.id)) != nil {
                problems.append(.init(path: "plans[\(index)].id", message: "'\(row.id)' is a plan of another API"))
            }
            rows.append(row)
        }
        // Checked as the gateway reads it: with the plans it names (their paths as in the body), else with the
        // API's served plans.
        let checked =
            planValues.isEmpty
            ? deployProblems(
                ManagedAPI(id: current.id, name: current.name, definition: JSONValue.object(definition).jsonText()),
                plans: existing.filter(\.status.isServed))
            : self.problems(loader.load(value: .object(definition), source: current.id).diagnostics)
        for problem in checked {
            let path = problem.path.hasPrefix("plans") || prefix.isEmpty ? problem.path : "\(prefix).\(problem.path)"
            problems.append(.init(path: path, message: problem.message))
        }
        var api = current
        definition["plans"] = .array([])
        api.name = definition["name"]?.stringValue ?? current.name
        api.definition = JSONValue.object(definition).jsonText()
        if !problems.isEmpty { throw ManagementProblem.invalid("the API definition is not valid", problems) }
        let stored = try await changing(request, current: current.version) {
            try await store.updateAPI(api, expectedVersion: $0, context: context.change("api.imported"))
        }
        if !planValues.isEmpty {
            do {
                for row in rows {
                    if let old = existing.first(where: { $0.id == row.id }) {
                        _ = try await store.updatePlan(row, expectedVersion: old.version, context: context.change())
                    } else {
                        _ = try await store.createPlan(row, context: context.change())
                    }
                }
                for old in existing where !rows.contains(where: { $0.id == old.id }) {
                    try await store.deletePlan(id: old.id, expectedVersion: old.version, context: context.change())
                }
            } catch let error as StoreError {
                throw ManagementProblem.from(store: error, versionGiven: false)
            }
        }
        return Self.json(Representation.api(stored), version: stored.version)
    }

    func updateAPI(_ request: Request, _ context: ManagementRequestContext) async throws -> Response {
        let current = try await store.api(id: try parameter(context, "apiId"))
        try precondition(request, current: current.version)
        var body = try await RequestBody.object(of: request, limit: maxBodyBytes)
        var definition = body.object
        for field in Self.derivedFields { definition[field] = nil }
        Self.normalizeVersion(&definition)
        if let id = definition["id"], id.stringValue != current.id {
            body.problem("id", "must be the API's id '\(current.id)'")
        }
        if let plans = definition["plans"]?.arrayValue, !plans.isEmpty {
            body.problem("plans", "plans are resources of their own: change them at /apis/\(current.id)/plans")
        }
        definition["id"] = .string(current.id)
        definition["plans"] = .array([])
        let name = body.string("name", required: true, maximumLength: 1000)
        try body.check("API definition")
        var api = current
        api.name = name ?? current.name
        api.definition = JSONValue.object(definition).jsonText()
        let problems = deployProblems(api, plans: try await servedPlans(of: api.id))
        if !problems.isEmpty { throw ManagementProblem.invalid("the API definition is not valid", problems) }
        let stored = try await changing(request, current: current.version) {
            try await store.updateAPI(api, expectedVersion: $0, context: context.change())
        }
        return Self.json(Representation.api(stored), version: stored.version)
    }

    /// Gravitee's `_start` and `_stop`: 204 without a body (the new version in the ETag). Starting a started API,
    /// or stopping a stopped one, changes nothing and is no error.
    func setState(
        _ state: ManagedAPI.LifecycleState, _ request: Request, _ context: ManagementRequestContext
    ) async throws -> Response {
        var api = try await store.api(id: try parameter(context, "apiId"))
        try precondition(request, current: api.version)
        guard api.lifecycleState != state else { return Self.noContent(version: api.version) }
        if state == .started { try await checkDeployable(api) }
        api.lifecycleState = state
        let stored = try await changing(request, current: api.version) {
            try await store.updateAPI(
                api, expectedVersion: $0, context: context.change(state == .started ? "api.started" : "api.stopped"))
        }
        return Self.noContent(version: stored.version)
    }

    /// Gravitee's export shape: `{"export": {"date", ...}, "api": {...}, "plans": [...]}`; the `api`
    /// object is a v4 definition (`definitionVersion` `4.0.0`) that `sluice validate` and `--apis` read once its
    /// plans are put back in it, and that `_import/definition` takes as it is.
    func exportDefinition(_ api: ManagedAPI) async throws -> JSONValue {
        let plans = try await store.listPlans(PlanFilter(apiID: api.id), page: .all).items
        let (merged, _) = StoreSnapshot.mergedDefinition(api, plans: plans)
        var definition = merged?.objectValue ?? JSONObject()
        let planValues = definition["plans"] ?? .array([])
        definition["plans"] = nil
        return .object(
            JSONObject([
                (
                    "export",
                    .object(
                        JSONObject([
                            ("date", .string(Dates.text(Date()))), ("exportedBy", .string("sluice")),
                        ]))
                ),
                ("api", .object(definition)), ("plans", planValues),
            ]))
    }

    func asyncAPI(_ apiID: String) async throws -> Response {
        let api = try await store.api(id: apiID)
        let plans = try await servedPlans(of: apiID)
        let (merged, problem) = StoreSnapshot.mergedDefinition(api, plans: plans)
        guard let merged else { throw ManagementProblem.conflict(problem ?? "the stored definition is not valid") }
        let loaded = loader.load(value: merged, source: apiID)
        guard let definition = loaded.definition ?? APIDefinitionReader().read(merged).definition else {
            throw ManagementProblem.conflict("the stored definition of API '\(apiID)' cannot be read")
        }
        guard definition.type == .message else {
            throw ManagementProblem.notFound(
                "API '\(apiID)' is a proxy API: AsyncAPI documents describe message APIs only")
        }
        return Self.json(AsyncAPIDocument(definition: definition, state: api.lifecycleState).document)
    }
}
