public import Foundation

/// One change in the audit log: who did what to which resource, and when.
public struct AuditEntry: Sendable, Hashable {
    /// Increasing with time; set by the store.
    public var sequence: Int64
    public var at: Date
    /// Who made the change (a user name, `seed`, `system`, …).
    public var actor: String
    /// What was done, as `<resource>.<verb>`: `api.created`, `plan.updated`, `apiKey.revoked`, …
    public var action: String
    public var resourceType: ResourceType
    public var resourceID: String
    /// Details of the change, a JSON object; nil for none.
    public var detail: String?

    public init(
        sequence: Int64, at: Date, actor: String, action: String, resourceType: ResourceType, resourceID: String,
        detail: String?
    ) {
        self.sequence = sequence
        self.at = at
        self.actor = actor
        self.action = action
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.detail = detail
    }
}

/// Who makes a change and how the audit log should name it.
public struct ChangeContext: Sendable {
    /// Who makes the change. Default: `system`.
    public var actor: String
    /// The audit log's action; nil names it after the change (`api.created`, `plan.updated`, …). A management
    /// route that is more precise than an update says so here (`plan.published`, `apiKey.revoked`).
    public var action: String?
    /// Details for the audit log, a JSON object; nil for none.
    public var detail: String?

    public init(actor: String = "system", action: String? = nil, detail: String? = nil) {
        self.actor = actor
        self.action = action
        self.detail = detail
    }
}
