import Foundation
import SluiceCore

/// How a record maps to its table: its columns in order (`id` first; `created_at`, `updated_at`, `version` last)
/// and its values in the same order.
protocol StoredRecord: Sendable {
    static var resourceType: ResourceType { get }
    static var table: String { get }
    static var columns: [String] { get }
    var id: String { get }
    var version: Int64 { get set }
    var createdAt: Date { get set }
    var updatedAt: Date { get set }
    func values() -> [SQLValue]
    init(row: SQLRow) throws
    /// The problems of the record on its own (references are checked by the store).
    func problems() -> [StoreProblem]
}

extension Date {
    var milliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
    init(milliseconds: Int64) { self.init(timeIntervalSince1970: Double(milliseconds) / 1000) }
}

extension Optional where Wrapped == Date {
    var sqlValue: SQLValue { SQLValue(self?.milliseconds) }
}

extension SQLRow {
    func date(_ index: Int) throws -> Date { Date(milliseconds: try integer(index)) }
    func optionalDate(_ index: Int) -> Date? { optionalInteger(index).map(Date.init(milliseconds:)) }
    func enumeration<E: RawRepresentable>(_ index: Int, _ type: E.Type) throws -> E where E.RawValue == String {
        let text = try text(index)
        guard let value = E(rawValue: text) else { throw SQLRowError(index: index, expected: "one of \(E.self)") }
        return value
    }
}

// MARK: - Validation helpers

enum Check {
    /// Ids are what URLs name: 1 to 200 characters, no control characters, no `/`.
    static func id(_ id: String, path: String = "id", into problems: inout [StoreProblem]) {
        if id.isEmpty {
            problems.append(.init(path: path, message: "must not be empty"))
        } else if id.count > 200 {
            problems.append(.init(path: path, message: "must be at most 200 characters"))
        } else if id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == "/" }) {
            problems.append(.init(path: path, message: "must not contain control characters or '/'"))
        }
    }

    static func text(_ text: String, path: String, maximum: Int = 1000, into problems: inout [StoreProblem]) {
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            problems.append(.init(path: path, message: "must not be empty"))
        } else if text.count > maximum {
            problems.append(.init(path: path, message: "must be at most \(maximum) characters"))
        }
    }

    /// The parsed object, or a problem when `text` is not a JSON object.
    @discardableResult
    static func jsonObject(_ text: String, path: String, into problems: inout [StoreProblem]) -> JSONObject? {
        do {
            guard case .object(let object) = try JSONValue.parse(json: Data(text.utf8)) else {
                problems.append(.init(path: path, message: "must be a JSON object"))
                return nil
            }
            return object
        } catch {
            problems.append(.init(path: path, message: "is not valid JSON: \(error)"))
            return nil
        }
    }
}

// MARK: - APIs

extension ManagedAPI: StoredRecord {
    static let resourceType = ResourceType.api
    static let table = "apis"
    static let columns = [
        "id", "name", "definition", "lifecycle_state", "deployment_revision", "created_at", "updated_at", "version",
    ]

    func values() -> [SQLValue] {
        [
            .text(id), .text(name), .text(definition), .text(lifecycleState.rawValue), .integer(deploymentRevision),
            .integer(createdAt.milliseconds), .integer(updatedAt.milliseconds), .integer(version),
        ]
    }

    init(row: SQLRow) throws {
        self.init(
            id: try row.text(0), name: try row.text(1), definition: try row.text(2),
            lifecycleState: try row.enumeration(3, LifecycleState.self), deploymentRevision: try row.integer(4),
            createdAt: try row.date(5), updatedAt: try row.date(6), version: try row.integer(7))
    }

    func problems() -> [StoreProblem] {
        var problems: [StoreProblem] = []
        Check.id(id, into: &problems)
        Check.text(name, path: "name", into: &problems)
        if deploymentRevision < 0 {
            problems.append(.init(path: "deploymentRevision", message: "must not be negative"))
        }
        if let object = Check.jsonObject(definition, path: "definition", into: &problems), let given = object["id"] {
            if given.stringValue != id {
                problems.append(
                    .init(path: "definition.id", message: "must be the API's id '\(id)' (found \(given.jsonText()))"))
            }
        }
        return problems
    }
}

// MARK: - Plans

extension ManagedPlan: StoredRecord {
    static let resourceType = ResourceType.plan
    static let table = "plans"
    static let columns = [
        "id", "api_id", "name", "security_type", "security_configuration", "status", "definition", "created_at",
        "updated_at", "version",
    ]

    func values() -> [SQLValue] {
        [
            .text(id), .text(apiID), .text(name), SQLValue(securityType), SQLValue(securityConfiguration),
            .text(status.rawValue), .text(definition), .integer(createdAt.milliseconds),
            .integer(updatedAt.milliseconds), .integer(version),
        ]
    }

    init(row: SQLRow) throws {
        self.init(
            id: try row.text(0), apiID: try row.text(1), name: try row.text(2), securityType: row.optionalText(3),
            securityConfiguration: row.optionalText(4), status: try row.enumeration(5, Status.self),
            definition: try row.text(6), createdAt: try row.date(7), updatedAt: try row.date(8),
            version: try row.integer(9))
    }

    func problems() -> [StoreProblem] {
        var problems: [StoreProblem] = []
        Check.id(id, into: &problems)
        Check.id(apiID, path: "apiId", into: &problems)
        Check.text(name, path: "name", into: &problems)
        if let securityType {
            if securityType.isEmpty || securityType.count > 100 || securityType.contains(where: \.isWhitespace) {
                problems.append(.init(path: "security.type", message: "must be a plan type such as api-key"))
            }
        }
        if let securityConfiguration {
            Check.jsonObject(securityConfiguration, path: "security.configuration", into: &problems)
        }
        Check.jsonObject(definition, path: "definition", into: &problems)
        return problems
    }
}

// MARK: - Applications

extension ManagedApplication: StoredRecord {
    static let resourceType = ResourceType.application
    static let table = "applications"
    static let columns = ["id", "name", "description", "client_id", "created_at", "updated_at", "version"]

    func values() -> [SQLValue] {
        [
            .text(id), .text(name), SQLValue(description), SQLValue(clientID), .integer(createdAt.milliseconds),
            .integer(updatedAt.milliseconds), .integer(version),
        ]
    }

    init(row: SQLRow) throws {
        self.init(
            id: try row.text(0), name: try row.text(1), description: row.optionalText(2),
            clientID: row.optionalText(3), createdAt: try row.date(4), updatedAt: try row.date(5),
            version: try row.integer(6))
    }

    func problems() -> [StoreProblem] {
        var problems: [StoreProblem] = []
        Check.id(id, into: &problems)
        Check.text(name, path: "name", into: &problems)
        if let description, description.count > 10_000 {
            problems.append(.init(path: "description", message: "must be at most 10000 characters"))
        }
        if let clientID { Check.text(clientID, path: "settings.oauth.clientId", maximum: 500, into: &problems) }
        return problems
    }
}

// MARK: - Subscriptions

extension ManagedSubscription: StoredRecord {
    static let resourceType = ResourceType.subscription
    static let table = "subscriptions"
    static let columns = [
        "id", "application_id", "api_id", "plan_id", "status", "starting_at", "ending_at", "metadata",
        "configuration", "created_at", "updated_at", "version",
    ]

    func values() -> [SQLValue] {
        let metadataText = JSONValue.object(
            JSONObject(metadata.keys.sorted().map { ($0, JSONValue.string(metadata[$0]!)) })
        ).jsonText()
        return [
            .text(id), .text(applicationID), .text(apiID), .text(planID), .text(status.rawValue), startingAt.sqlValue,
            endingAt.sqlValue, .text(metadataText), SQLValue(configuration), .integer(createdAt.milliseconds),
            .integer(updatedAt.milliseconds), .integer(version),
        ]
    }

    init(row: SQLRow) throws {
        var metadata: [String: String] = [:]
        if let object = try? JSONValue.parse(json: Data(try row.text(7).utf8)).objectValue {
            for (key, value) in object.entries { metadata[key] = value.stringValue ?? value.jsonText() }
        }
        self.init(
            id: try row.text(0), applicationID: try row.text(1), apiID: try row.text(2), planID: try row.text(3),
            status: try row.enumeration(4, Status.self), startingAt: row.optionalDate(5),
            endingAt: row.optionalDate(6), metadata: metadata, configuration: row.optionalText(8),
            createdAt: try row.date(9), updatedAt: try row.date(10), version: try row.integer(11))
    }

    func problems() -> [StoreProblem] {
        var problems: [StoreProblem] = []
        Check.id(id, into: &problems)
        Check.id(applicationID, path: "applicationId", into: &problems)
        Check.id(apiID, path: "apiId", into: &problems)
        Check.id(planID, path: "planId", into: &problems)
        if let startingAt, let endingAt, endingAt <= startingAt {
            problems.append(.init(path: "endingAt", message: "must be after startingAt"))
        }
        if let configuration { Check.jsonObject(configuration, path: "configuration", into: &problems) }
        return problems
    }
}

// MARK: - API keys

extension ManagedAPIKey: StoredRecord {
    static let resourceType = ResourceType.apiKey
    static let table = "api_keys"
    static let columns = [
        "id", "application_id", "key_hash", "expire_at", "revoked", "revoked_at", "created_at", "updated_at",
        "version",
    ]

    func values() -> [SQLValue] {
        [
            .text(id), .text(applicationID), .text(hash.description), expireAt.sqlValue, SQLValue(revoked),
            revokedAt.sqlValue, .integer(createdAt.milliseconds), .integer(updatedAt.milliseconds), .integer(version),
        ]
    }

    /// The row's subscriptions come from their own table; the store fills them in.
    init(row: SQLRow) throws {
        guard let hash = APIKeyHash(text: try row.text(2)) else { throw SQLRowError(index: 2, expected: "a digest") }
        self.init(
            id: try row.text(0), applicationID: try row.text(1), hash: hash, subscriptions: [],
            expireAt: row.optionalDate(3), revoked: try row.integer(4) != 0, revokedAt: row.optionalDate(5),
            createdAt: try row.date(6), updatedAt: try row.date(7), version: try row.integer(8))
    }

    func problems() -> [StoreProblem] {
        var problems: [StoreProblem] = []
        Check.id(id, into: &problems)
        Check.id(applicationID, path: "applicationId", into: &problems)
        if hash.bytes.count != 32 { problems.append(.init(path: "keyHash", message: "must be a SHA-256 digest")) }
        if subscriptions.isEmpty {
            problems.append(.init(path: "subscriptions", message: "must name at least one subscription"))
        }
        for (index, subscription) in subscriptions.enumerated() {
            Check.id(subscription, path: "subscriptions[\(index)]", into: &problems)
        }
        if Set(subscriptions).count != subscriptions.count {
            problems.append(.init(path: "subscriptions", message: "must not name a subscription twice"))
        }
        return problems
    }
}

// MARK: - Users

extension ManagementUser: StoredRecord {
    static let resourceType = ResourceType.user
    static let table = "users"
    static let columns = ["id", "name", "role", "token_hash", "created_at", "updated_at", "version"]

    func values() -> [SQLValue] {
        [
            .text(id), .text(name), .text(role.rawValue), .text(tokenHash.description),
            .integer(createdAt.milliseconds), .integer(updatedAt.milliseconds), .integer(version),
        ]
    }

    init(row: SQLRow) throws {
        guard let hash = APIKeyHash(text: try row.text(3)) else { throw SQLRowError(index: 3, expected: "a digest") }
        self.init(
            id: try row.text(0), name: try row.text(1), role: try row.enumeration(2, Role.self), tokenHash: hash,
            createdAt: try row.date(4), updatedAt: try row.date(5), version: try row.integer(6))
    }

    func problems() -> [StoreProblem] {
        var problems: [StoreProblem] = []
        Check.id(id, into: &problems)
        Check.text(name, path: "name", maximum: 200, into: &problems)
        if tokenHash.bytes.count != 32 {
            problems.append(.init(path: "tokenHash", message: "must be a SHA-256 digest"))
        }
        return problems
    }
}
