import Foundation
import GRDB

/// SQLite through GRDB: one connection (a `DatabaseQueue`) on a file, transactions run one at a time through a
/// gate, each statement on GRDB's queue. Other processes on the same file wait on SQLite's lock (busy timeout).
final class SQLiteBackend: SQLBackend {
    static let migrations = SQLMigrator.migrations(integer: "INTEGER", serial: "INTEGER PRIMARY KEY AUTOINCREMENT")

    let queue: DatabaseQueue
    private let gate = AsyncSerialGate()

    init(path: String, busyTimeout: Duration) throws {
        var configuration = Configuration()
        // Transactions span several accesses to the queue (the store's logic is async); the gate keeps them whole.
        configuration.allowsUnsafeTransactions = true
        configuration.busyMode = .timeout(busyTimeout.timeInterval)
        configuration.label = "sluice-store"
        self.queue = try DatabaseQueue(path: path, configuration: configuration)
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        try await gate.run { try await transaction("BEGIN DEFERRED", body) }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        try await gate.run { try await transaction("BEGIN IMMEDIATE", body) }
    }

    func migrate() async throws {
        try await migrate(upTo: nil)
    }

    @discardableResult
    func migrate(upTo target: Int?) async throws -> [Int] {
        try await write { try await SQLMigrator.run(Self.migrations, upTo: target, on: $0) }
    }

    private func transaction<T: Sendable>(
        _ begin: String, _ body: @escaping @Sendable (any SQLConnection) async throws -> T
    ) async throws -> T {
        try await queue.writeWithoutTransaction { db in
            if db.isInsideTransaction { try db.execute(sql: "ROLLBACK") }
            try db.execute(sql: begin)
        }
        do {
            let result = try await body(SQLiteConnection(queue: queue))
            try await queue.writeWithoutTransaction { try $0.execute(sql: "COMMIT") }
            return result
        } catch {
            rollBack()
            throw error
        }
    }
}

extension SQLiteBackend {
    /// Synchronously: a cancelled task must still roll back.
    func rollBack() {
        queue.writeWithoutTransaction { db in
            if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK") }
        }
    }
}

struct SQLiteConnection: SQLConnection {
    let queue: DatabaseQueue

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let arguments = StatementArguments(binds.map(\.databaseValue))
        return try await queue.writeWithoutTransaction { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                SQLRow(values: row.databaseValues.map(SQLValue.init))
            }
        }
    }
}

extension SQLValue {
    var databaseValue: DatabaseValue {
        switch self {
        case .null: .null
        case .integer(let value): value.databaseValue
        case .text(let value): value.databaseValue
        }
    }

    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let integer): self = .integer(integer)
        case .double(let double): self = .integer(Int64(double))
        case .string(let text): self = .text(text)
        case .blob(let data): self = .text(String(decoding: data, as: UTF8.self))
        }
    }
}
