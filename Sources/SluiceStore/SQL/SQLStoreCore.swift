import Foundation
import SluiceCore

/// The management store's logic over any ``SQLBackend``: one body of SQL for SQLite and PostgreSQL (only `?`
/// placeholders, integers and text, `LIMIT`/`OFFSET`, `RETURNING`), so both stores behave the same.
struct SQLStoreCore: Sendable {
    let backend: any SQLBackend
    let now: @Sendable () -> Date

    init(backend: any SQLBackend, now: @escaping @Sendable () -> Date = { Date() }) {
        self.backend = backend
        self.now = now
    }

    // MARK: Running

    /// Runs a read; every failure that is not already a ``StoreError`` becomes ``StoreError/Code/unavailable``.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        do {
            return try await backend.read(body)
        } catch {
            throw StoreError.unavailable(error)
        }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        do {
            return try await backend.write(body)
        } catch {
            throw StoreError.unavailable(error)
        }
    }

    // MARK: Generic rows

    static func select<R: StoredRecord>(_ type: R.Type) -> String {
        "SELECT \(R.columns.joined(separator: ", ")) FROM \(R.table)"
    }

    func fetch<R: StoredRecord>(_ type: R.Type, id: String, on connection: any SQLConnection) async throws -> R? {
        try await connection.query("\(Self.select(R.self)) WHERE id = ?", [.text(id)]).first.map(R.init(row:))
    }

    func fetchOrThrow<R: StoredRecord>(_ type: R.Type, id: String, on connection: any SQLConnection) async throws -> R {
        guard let record = try await fetch(R.self, id: id, on: connection) else {
            throw StoreError.notFound(R.resourceType, id)
        }
        return record
    }

    func list<R: StoredRecord>(
        _ type: R.Type, conditions: [(String, [SQLValue])], order: String = "created_at, id", page: PageRequest,
        on connection: any SQLConnection
    ) async throws -> Page<R> {
        let page = try page.validated()
        let clause = conditions.isEmpty ? "" : " WHERE " + conditions.map { "(\($0.0))" }.joined(separator: " AND ")
        let binds = conditions.flatMap(\.1)
        let total = try await connection.query("SELECT COUNT(*) FROM \(R.table)\(clause)", binds).first?.integer(0) ?? 0
        let rows = try await connection.query(
            "\(Self.select(R.self))\(clause) ORDER BY \(order) LIMIT ? OFFSET ?",
            binds + [.integer(Int64(page.perPage)), .integer(Int64(page.offset))])
        return Page(
            items: try rows.map(R.init(row:)), page: page.page, perPage: page.perPage, totalCount: Int(total))
    }

    /// Inserts a new record after checking its id is free; sets its times and version 1.
    func insert<R: StoredRecord>(_ record: R, on connection: any SQLConnection) async throws -> R {
        if try await fetch(R.self, id: record.id, on: connection) != nil {
            throw StoreError(
                code: .conflict, message: "\(R.resourceType.displayName) '\(record.id)' already exists",
                resourceType: R.resourceType, resourceID: record.id)
        }
        var stored = record
        let time = Date(milliseconds: now().milliseconds)
        stored.createdAt = time
        stored.updatedAt = time
        stored.version = 1
        let placeholders = Array(repeating: "?", count: R.columns.count).joined(separator: ", ")
        try await connection.execute(
            "INSERT INTO \(R.table) (\(R.columns.joined(separator: ", "))) VALUES (\(placeholders))", stored.values())
        return stored
    }

    /// Replaces `old`, read in this transaction, if its version is `expectedVersion`; keeps its creation time,
    /// raises its version.
    func replace<R: StoredRecord>(
        _ old: R, with record: R, expectedVersion: Int64, on connection: any SQLConnection
    ) async throws -> R {
        try Self.checkVersion(old, expected: expectedVersion)
        var stored = record
        stored.createdAt = old.createdAt
        stored.updatedAt = Date(milliseconds: max(now().milliseconds, old.updatedAt.milliseconds))
        stored.version = old.version + 1
        let columns = Array(R.columns.dropFirst())
        let assignments = columns.map { "\($0) = ?" }.joined(separator: ", ")
        let values = Array(stored.values().dropFirst())
        let updated = try await connection.query(
            "UPDATE \(R.table) SET \(assignments) WHERE id = ? AND version = ? RETURNING id",
            values + [.text(record.id), .integer(old.version)])
        guard !updated.isEmpty else { throw Self.staleVersion(R.self, id: record.id, current: nil) }
        return stored
    }

    static func checkVersion<R: StoredRecord>(_ record: R, expected: Int64?) throws {
        guard let expected, expected != record.version else { return }
        throw staleVersion(R.self, id: record.id, current: record.version)
    }

    static func staleVersion<R: StoredRecord>(_ type: R.Type, id: String, current: Int64?) -> StoreError {
        StoreError(
            code: .conflict,
            message:
                "\(R.resourceType.displayName) '\(id)' has changed since it was read (version \(current.map(String.init) ?? "newer"))",
            resourceType: R.resourceType, resourceID: id, currentVersion: current)
    }

    func deleteRow<R: StoredRecord>(_ type: R.Type, id: String, on connection: any SQLConnection) async throws {
        try await connection.execute("DELETE FROM \(R.table) WHERE id = ?", [.text(id)])
    }

    // MARK: Events and audit

    /// Writes the change's event and its audit entry (in the caller's transaction).
    func recordChange(
        _ type: ResourceType, id: String, kind: ChangeKind, context: ChangeContext, audit: Bool = true,
        on connection: any SQLConnection
    ) async throws {
        let time = now().milliseconds
        try await connection.execute(
            "INSERT INTO events (at, resource_type, resource_id, kind) VALUES (?, ?, ?, ?)",
            [.integer(time), .text(type.rawValue), .text(id), .text(kind.rawValue)])
        guard audit else { return }
        let action = context.action ?? "\(type.auditName).\(kind.rawValue.lowercased())"
        try await connection.execute(
            "INSERT INTO audit_log (at, actor, action, resource_type, resource_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
            [
                .integer(time), .text(context.actor), .text(action), .text(type.rawValue), .text(id),
                SQLValue(context.detail),
            ])
    }

    func events(after sequence: Int64, limit: Int) async throws -> [ChangeEvent] {
        guard (1...10_000).contains(limit) else {
            throw StoreError(
                code: .invalid, message: "the event limit is not valid",
                problems: [.init(path: "limit", message: "must be between 1 and 10000")])
        }
        return try await read { connection in
            try await connection.query(
                "SELECT sequence, at, resource_type, resource_id, kind FROM events WHERE sequence > ? ORDER BY sequence LIMIT ?",
                [.integer(sequence), .integer(Int64(limit))]
            ).map { row in
                ChangeEvent(
                    sequence: try row.integer(0), at: try row.date(1),
                    resourceType: try row.enumeration(2, ResourceType.self), resourceID: try row.text(3),
                    kind: try row.enumeration(4, ChangeKind.self))
            }
        }
    }

    func eventRange() async throws -> EventRange {
        try await read { connection in
            let row = try await connection.query(
                "SELECT COALESCE(MIN(sequence), 0), COALESCE(MAX(sequence), 0) FROM events", []
            ).first
            return EventRange(oldest: try row?.integer(0) ?? 0, latest: try row?.integer(1) ?? 0)
        }
    }

    func pruneEvents(before date: Date) async throws -> Int {
        // A prefix of the sequence, so readers see a gap only below the oldest event kept: up to the newest event
        // written before `date` (nodes' clocks may differ, so times alone need not follow the sequence).
        let condition =
            "sequence <= (SELECT MAX(sequence) FROM events WHERE at < ?) AND sequence < (SELECT MAX(sequence) FROM events)"
        let binds: [SQLValue] = [.integer(date.milliseconds)]
        return try await write { connection in
            let count =
                try await connection.query("SELECT COUNT(*) FROM events WHERE \(condition)", binds).first?.integer(0)
                ?? 0
            if count > 0 { try await connection.execute("DELETE FROM events WHERE \(condition)", binds) }
            return Int(count)
        }
    }

    func auditLog(_ filter: AuditFilter, page: PageRequest) async throws -> Page<AuditEntry> {
        let page = try page.validated()
        var conditions: [(String, [SQLValue])] = []
        if let type = filter.resourceType { conditions.append(("resource_type = ?", [.text(type.rawValue)])) }
        if let id = filter.resourceID { conditions.append(("resource_id = ?", [.text(id)])) }
        if let actor = filter.actor { conditions.append(("actor = ?", [.text(actor)])) }
        let clause = conditions.isEmpty ? "" : " WHERE " + conditions.map(\.0).joined(separator: " AND ")
        let binds = conditions.flatMap(\.1)
        return try await read { connection in
            let total =
                try await connection.query("SELECT COUNT(*) FROM audit_log\(clause)", binds).first?.integer(0) ?? 0
            let rows = try await connection.query(
                "SELECT sequence, at, actor, action, resource_type, resource_id, detail FROM audit_log\(clause) ORDER BY sequence DESC LIMIT ? OFFSET ?",
                binds + [.integer(Int64(page.perPage)), .integer(Int64(page.offset))])
            let items = try rows.map { row in
                AuditEntry(
                    sequence: try row.integer(0), at: try row.date(1), actor: try row.text(2), action: try row.text(3),
                    resourceType: try row.enumeration(4, ResourceType.self), resourceID: try row.text(5),
                    detail: row.optionalText(6))
            }
            return Page(items: items, page: page.page, perPage: page.perPage, totalCount: Int(total))
        }
    }
}

extension ResourceType {
    /// The resource's name in audit actions: `api.created`, `apiKey.updated`.
    var auditName: String {
        switch self {
        case .api: "api"
        case .plan: "plan"
        case .application: "application"
        case .subscription: "subscription"
        case .apiKey: "apiKey"
        case .user: "user"
        }
    }
}

extension String {
    /// A `LIKE` pattern that finds `self` anywhere, compared in lower case, with `\` escaping the wildcards.
    var containsPattern: String {
        var escaped = ""
        for character in lowercased() {
            if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return "%\(escaped)%"
    }
}
