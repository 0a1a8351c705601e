public import SluiceCore

/// A Gravitee v4 definition split the way the store keeps it: the API (its definition with an empty `plans`) and
/// one plan row per entry of `plans[]` (its `security` in the row's columns, the rest as the plan's JSON). What
/// `_import/definition` stores, with ``ManagementStore/importAPI(_:plans:context:)``.
public enum DefinitionImport {
    /// Splits `definition`; its `id` must be a non-empty string, and so must each plan's. A plan's missing
    /// `status` reads as PUBLISHED, as Gravitee's gateway serves a plan whose definition names none.
    public static func split(
        _ definition: JSONObject, lifecycleState: ManagedAPI.LifecycleState = .stopped
    ) throws -> (api: ManagedAPI, plans: [ManagedPlan]) {
        var problems: [StoreProblem] = []
        guard let id = definition["id"]?.stringValue, !id.isEmpty else {
            throw StoreError.invalid(.api, nil, [.init(path: "id", message: "is required (a string)")])
        }
        var object = definition
        let entries = object["plans"]?.arrayValue ?? []
        if object["plans"] != nil, object["plans"]?.arrayValue == nil {
            problems.append(.init(path: "plans", message: "must be an array"))
        }
        object["plans"] = .array([])
        let api = ManagedAPI(
            id: id, name: object["name"]?.stringValue ?? id, definition: JSONValue.object(object).jsonText(),
            lifecycleState: lifecycleState)
        var plans: [ManagedPlan] = []
        for (index, entry) in entries.enumerated() {
            guard case .object(var plan) = entry, let planID = plan["id"]?.stringValue, !planID.isEmpty else {
                problems.append(.init(path: "plans[\(index)].id", message: "is required (a string)"))
                continue
            }
            let security = plan["security"]?.objectValue
            plan["security"] = nil
            var status = ManagedPlan.Status.published
            if let text = plan["status"]?.stringValue {
                if let parsed = ManagedPlan.Status(rawValue: text.uppercased()) {
                    status = parsed
                } else {
                    problems.append(
                        .init(
                            path: "plans[\(index)].status", message: "must be STAGING, PUBLISHED, DEPRECATED or CLOSED")
                    )
                }
            }
            plans.append(
                ManagedPlan(
                    id: planID, apiID: id, name: plan["name"]?.stringValue ?? planID,
                    securityType: security?["type"]?.stringValue,
                    securityConfiguration: security?["configuration"].map { $0.jsonText() }, status: status,
                    definition: JSONValue.object(plan).jsonText()))
        }
        if !problems.isEmpty { throw StoreError.invalid(.api, id, problems) }
        return (api, plans)
    }
}
