/// Why a store operation failed, with a stable code the management API maps to an HTTP status: notFound → 404,
/// conflict → 409 (or 412 for a stale version), invalid → 400 with every problem, unavailable → 503.
public struct StoreError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable, Equatable {
        /// No resource with this id.
        case notFound = "NOT_FOUND"
        /// The resource changed since it was read (`expectedVersion` is stale), or its id or a unique value is taken.
        case conflict = "CONFLICT"
        /// The record is not acceptable; ``problems`` says why, field by field.
        case invalid = "INVALID"
        /// The database cannot be reached or failed; the operation may be tried again.
        case unavailable = "UNAVAILABLE"
    }

    public var code: Code
    public var message: String
    public var resourceType: ResourceType?
    public var resourceID: String?
    /// For ``Code/invalid``: each problem with the field it is about.
    public var problems: [StoreProblem]
    /// For a version conflict: the version the store holds.
    public var currentVersion: Int64?

    public init(
        code: Code, message: String, resourceType: ResourceType? = nil, resourceID: String? = nil,
        problems: [StoreProblem] = [], currentVersion: Int64? = nil
    ) {
        self.code = code
        self.message = message
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.problems = problems
        self.currentVersion = currentVersion
    }

    /// Whether the same operation may succeed later.
    public var isRetriable: Bool { code == .unavailable }

    public var description: String {
        var text = "\(code.rawValue): \(message)"
        if !problems.isEmpty { text += " (" + problems.map(\.description).joined(separator: "; ") + ")" }
        return text
    }

    static func notFound(_ type: ResourceType, _ id: String) -> StoreError {
        StoreError(
            code: .notFound, message: "\(type.displayName) '\(id)' does not exist", resourceType: type, resourceID: id)
    }

    static func invalid(_ type: ResourceType, _ id: String?, _ problems: [StoreProblem]) -> StoreError {
        StoreError(
            code: .invalid, message: "the \(type.displayName) is not valid", resourceType: type, resourceID: id,
            problems: problems)
    }

    static func unavailable(_ error: any Error) -> StoreError {
        if let storeError = error as? StoreError { return storeError }
        return StoreError(code: .unavailable, message: "the management store failed: \(String(reflecting: error))")
    }
}

/// One reason a record is not acceptable: the field (a JSON path such as `definition` or `subscriptions[1]`) and
/// what is wrong with it.
public struct StoreProblem: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

extension ResourceType {
    var displayName: String {
        switch self {
        case .api: "API"
        case .plan: "plan"
        case .application: "application"
        case .subscription: "subscription"
        case .apiKey: "API key"
        case .user: "user"
        }
    }
}
