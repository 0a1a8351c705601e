/// A value bound to or read from a statement. Both stores keep only integers and text: times are milliseconds
/// since the epoch, flags 0 or 1, JSON its text, so that one body of SQL serves SQLite and PostgreSQL.
enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case text(String)

    init(_ text: String?) { self = text.map(SQLValue.text) ?? .null }
    init(_ integer: Int64?) { self = integer.map(SQLValue.integer) ?? .null }
    init(_ flag: Bool) { self = .integer(flag ? 1 : 0) }
}

/// One row of a result, read by column position.
struct SQLRow: Sendable {
    var values: [SQLValue]

    func text(_ index: Int) throws -> String {
        guard let value = optionalText(index) else { throw SQLRowError(index: index, expected: "text") }
        return value
    }

    func optionalText(_ index: Int) -> String? {
        guard index < values.count else { return nil }
        switch values[index] {
        case .text(let text): return text
        case .integer(let integer): return String(integer)
        case .null: return nil
        }
    }

    func integer(_ index: Int) throws -> Int64 {
        guard let value = optionalInteger(index) else { throw SQLRowError(index: index, expected: "integer") }
        return value
    }

    func optionalInteger(_ index: Int) -> Int64? {
        guard index < values.count else { return nil }
        switch values[index] {
        case .integer(let integer): return integer
        case .text(let text): return Int64(text)
        case .null: return nil
        }
    }
}

struct SQLRowError: Error, CustomStringConvertible {
    var index: Int
    var expected: String
    var description: String { "column \(index) is not \(expected)" }
}

/// A connection inside a transaction (or a read): statements with `?` placeholders.
protocol SQLConnection: Sendable {
    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]
}

extension SQLConnection {
    func execute(_ sql: String, _ binds: [SQLValue] = []) async throws {
        _ = try await query(sql, binds)
    }
}

/// The database under a SQL store: runs reads and writes, each in one transaction. Writes are serialized, so that
/// events commit in the order of their sequence numbers.
protocol SQLBackend: Sendable {
    /// Runs `body` in a read transaction.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) async throws -> T) async throws -> T
    /// Runs `body` in a write transaction, after every other write transaction has committed, then announces the
    /// change to listeners where the database can (PostgreSQL's NOTIFY).
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) async throws -> T) async throws -> T
    /// Applies the migrations not yet applied.
    func migrate() async throws
}
