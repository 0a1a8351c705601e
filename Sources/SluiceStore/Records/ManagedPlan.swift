public import Foundation

/// A plan of an API: a row of its own, so that publishing, deprecating and closing it are changes of one row.
public struct ManagedPlan: Sendable, Hashable {
    /// Gravitee's plan statuses. A gateway serves PUBLISHED and DEPRECATED plans (deprecated: existing subscriptions
    /// go on, no new ones).
    public enum Status: String, Sendable, CaseIterable, Codable {
        case staging = "STAGING"
        case published = "PUBLISHED"
        case deprecated = "DEPRECATED"
        case closed = "CLOSED"

        /// Whether a gateway serves a plan in this status.
        public var isServed: Bool { self == .published || self == .deprecated }
    }

    public var id: String
    public var apiID: String
    public var name: String
    /// The plan's `security.type` (`key-less`, `api-key`, `jwt`, `oauth2`, …); nil for a push plan.
    public var securityType: String?
    /// The plan's `security.configuration`, a JSON object; nil for none.
    public var securityConfiguration: String?
    public var status: Status
    /// The plan as Gravitee writes it in a v4 definition's `plans[]` (a JSON object: `mode`, `flows`,
    /// `selectionRule`, `tags`, …). Its `id`, `name`, `status` and `security` are replaced by the columns above when a
    /// gateway deploys it.
    public var definition: String
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64

    public init(
        id: String, apiID: String, name: String, securityType: String?, securityConfiguration: String? = nil,
        status: Status = .staging, definition: String = "{}", createdAt: Date = Date(timeIntervalSince1970: 0),
        updatedAt: Date = Date(timeIntervalSince1970: 0), version: Int64 = 0
    ) {
        self.id = id
        self.apiID = apiID
        self.name = name
        self.securityType = securityType
        self.securityConfiguration = securityConfiguration
        self.status = status
        self.definition = definition
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}
