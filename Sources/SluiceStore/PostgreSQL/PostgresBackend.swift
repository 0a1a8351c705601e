import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// PostgreSQL through postgres-nio's connection pool. Write transactions take one transaction-scoped advisory lock
/// first: they commit one after another, so events become visible in the order of their sequence numbers, and
/// each ends with a NOTIFY that gateways LISTEN for.
final class PostgresBackend: SQLBackend {
    static let migrations =
        SQLMigrator.migrations(integer: "BIGINT", serial: "BIGSERIAL PRIMARY KEY") + [
            SQLMigration(
                version: 3, name: "shared rate-limit counters",
                statements: [
                    "CREATE TABLE rate_limit_counters (key TEXT PRIMARY KEY, count BIGINT NOT NULL, reset_at BIGINT NOT NULL)",
                    "CREATE INDEX rate_limit_counters_reset ON rate_limit_counters (reset_at)",
                ])
        ]

    /// The channel of the change notifications.
    static let channel = "sluice_changes"
    /// The advisory lock that orders write transactions (and migrations across nodes).
    static let writeLock: Int64 = 0x736C_7569_6365

    let client: PostgresClient
    let configuration: PostgresStoreConfiguration
    let logger: Logger

    init(configuration: PostgresStoreConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let tls: PostgresClient.Configuration.TLS
        switch configuration.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(.makeClientConfiguration())
        case .require: tls = .require(.makeClientConfiguration())
        }
        var clientConfiguration = PostgresClient.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: tls)
        clientConfiguration.options.maximumConnections = configuration.maximumConnections
        clientConfiguration.options.connectTimeout = min(configuration.operationTimeout, .seconds(10))
        self.client = PostgresClient(configuration: clientConfiguration, backgroundLogger: logger)
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        try await withTimeout {
            try await self.client.withConnection { connection in
                try await body(PostgresSQLConnection(connection: connection, logger: self.logger))
            }
        }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        do {
            return try await transaction(body)
        } catch let error as PostgresTransactionError {
            // The store's own refusal (a conflict, a bad record) inside the transaction, rolled back: that error.
            if let refusal = error.closureError as? StoreError { throw refusal }
            throw error
        }
    }

    private func transaction<T: Sendable>(
        _ body: @escaping @Sendable (any SQLConnection) async throws -> T
    ) async throws -> T {
        try await withTimeout {
            try await self.client.withTransaction(logger: self.logger) { connection in
                let sql = PostgresSQLConnection(connection: connection, logger: self.logger)
                try await sql.execute("SELECT pg_advisory_xact_lock(?)", [.integer(Self.writeLock)])
                let result = try await body(sql)
                // Delivered at commit, and only then.
                try await sql.execute("NOTIFY \(Self.channel)")
                return result
            }
        }
    }

    func migrate() async throws {
        try await migrate(upTo: nil)
    }

    @discardableResult
    func migrate(upTo target: Int?) async throws -> [Int] {
        try await write { try await SQLMigrator.run(Self.migrations, upTo: target, on: $0) }
    }

    /// Runs `operation`, failing with ``StoreError/Code/unavailable`` past the operation timeout, even when the
    /// operation itself does not end then (a wait for a connection to a server that went away): the caller is not
    /// held (``withDeadline(_:timeoutError:_:)``).
    func withTimeout<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let limit = configuration.operationTimeout
        let server = "\(configuration.host):\(configuration.port)"
        return try await withDeadline(
            limit,
            timeoutError: {
                StoreError(code: .unavailable, message: "PostgreSQL at \(server) did not answer within \(limit)")
            }, operation)
    }
}

/// One of the pool's connections, with `?` placeholders turned into PostgreSQL's `$n`.
struct PostgresSQLConnection: SQLConnection {
    let connection: PostgresConnection
    let logger: Logger

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let rows = try await connection.query(Self.query(sql, binds), logger: logger)
        var result: [SQLRow] = []
        for try await row in rows {
            var values: [SQLValue] = []
            for cell in row {
                guard cell.bytes != nil else {
                    values.append(.null)
                    continue
                }
                switch cell.dataType {
                case .int8, .int4, .int2: values.append(.integer(try cell.decode(Int64.self)))
                case .text, .varchar, .name, .bpchar: values.append(.text(try cell.decode(String.self)))
                default: values.append(.null)
                }
            }
            result.append(SQLRow(values: values))
        }
        return result
    }

    static func query(_ sql: String, _ binds: [SQLValue]) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: binds.count)
        for value in binds {
            switch value {
            case .null: bindings.appendNull()
            case .integer(let integer): bindings.append(integer)
            case .text(let text): bindings.append(text)
            }
        }
        return PostgresQuery(unsafeSQL: numbered(sql), binds: bindings)
    }

    /// `?` → `$1`, `$2`, … outside quoted text.
    static func numbered(_ sql: String) -> String {
        var out = ""
        var index = 0
        var quoted = false
        for character in sql {
            if character == "'" { quoted.toggle() }
            if character == "?" && !quoted {
                index += 1
                out += "$\(index)"
            } else {
                out.append(character)
            }
        }
        return out
    }
}
