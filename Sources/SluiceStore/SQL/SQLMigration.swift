import Foundation

/// One step of a store's schema: applied once, in order of `version`, and recorded in `schema_versions`.
struct SQLMigration: Sendable {
    var version: Int
    var name: String
    var statements: [String]
}

enum SQLMigrator {
    static let createVersionTable = """
        CREATE TABLE IF NOT EXISTS schema_versions (
          version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)
        """

    /// Applies, in order, the migrations up to `target` that the database has not applied yet (in the caller's
    /// transaction). Refuses a database that a newer release has migrated further than `migrations` know.
    static func run(
        _ migrations: [SQLMigration], upTo target: Int? = nil, on connection: any SQLConnection
    ) async throws -> [Int] {
        try await connection.execute(createVersionTable)
        let applied = Set(
            try await connection.query("SELECT version FROM schema_versions", []).map { Int(try $0.integer(0)) })
        let known = migrations.map(\.version).max() ?? 0
        if let newest = applied.max(), newest > known {
            throw StoreError(
                code: .unavailable,
                message:
                    "the database's schema is at version \(newest), newer than this release knows (\(known)): upgrade sluice"
            )
        }
        var done: [Int] = []
        for migration in migrations.sorted(by: { $0.version < $1.version })
        where !applied.contains(migration.version) && migration.version <= (target ?? known) {
            for statement in migration.statements { try await connection.execute(statement) }
            try await connection.execute(
                "INSERT INTO schema_versions (version, name, applied_at) VALUES (?, ?, ?)",
                [.integer(Int64(migration.version)), .text(migration.name), .integer(Date().milliseconds)])
            done.append(migration.version)
        }
        return done
    }

    /// The versions a database has applied, oldest first.
    static func appliedVersions(on connection: any SQLConnection) async throws -> [Int] {
        try await connection.execute(createVersionTable)
        return try await connection.query("SELECT version FROM schema_versions ORDER BY version", []).map {
            Int(try $0.integer(0))
        }
    }

    /// The schema both stores share, written for either: `integer` is SQLite's INTEGER or PostgreSQL's BIGINT,
    /// `serial` an increasing integer key.
    static func migrations(integer: String, serial: String) -> [SQLMigration] {
        let stamps = "created_at \(integer) NOT NULL, updated_at \(integer) NOT NULL, version \(integer) NOT NULL"
        return [
            SQLMigration(
                version: 1, name: "APIs, plans, applications, subscriptions, API keys, events and audit log",
                statements: [
                    """
                    CREATE TABLE apis (id TEXT PRIMARY KEY, name TEXT NOT NULL, definition TEXT NOT NULL,
                      lifecycle_state TEXT NOT NULL, deployment_revision \(integer) NOT NULL, \(stamps))
                    """,
                    """
                    CREATE TABLE plans (id TEXT PRIMARY KEY, api_id TEXT NOT NULL, name TEXT NOT NULL,
                      security_type TEXT, security_configuration TEXT, status TEXT NOT NULL, definition TEXT NOT NULL,
                      \(stamps))
                    """,
                    "CREATE INDEX plans_api ON plans (api_id)",
                    """
                    CREATE TABLE applications (id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT,
                      client_id TEXT, \(stamps))
                    """,
                    "CREATE INDEX applications_client ON applications (client_id)",
                    """
                    CREATE TABLE subscriptions (id TEXT PRIMARY KEY, application_id TEXT NOT NULL, api_id TEXT NOT NULL,
                      plan_id TEXT NOT NULL, status TEXT NOT NULL, starting_at \(integer), ending_at \(integer),
                      metadata TEXT NOT NULL, configuration TEXT, \(stamps))
                    """,
                    "CREATE INDEX subscriptions_api ON subscriptions (api_id)",
                    "CREATE INDEX subscriptions_application ON subscriptions (application_id)",
                    "CREATE INDEX subscriptions_plan ON subscriptions (plan_id)",
                    """
                    CREATE TABLE api_keys (id TEXT PRIMARY KEY, application_id TEXT NOT NULL,
                      key_hash TEXT NOT NULL UNIQUE, expire_at \(integer), revoked \(integer) NOT NULL,
                      revoked_at \(integer), \(stamps))
                    """,
                    "CREATE INDEX api_keys_application ON api_keys (application_id)",
                    """
                    CREATE TABLE api_key_subscriptions (key_id TEXT NOT NULL, subscription_id TEXT NOT NULL,
                      position \(integer) NOT NULL, PRIMARY KEY (key_id, subscription_id))
                    """,
                    "CREATE INDEX api_key_subscriptions_subscription ON api_key_subscriptions (subscription_id)",
                    """
                    CREATE TABLE events (sequence \(serial), at \(integer) NOT NULL, resource_type TEXT NOT NULL,
                      resource_id TEXT NOT NULL, kind TEXT NOT NULL)
                    """,
                    """
                    CREATE TABLE audit_log (sequence \(serial), at \(integer) NOT NULL, actor TEXT NOT NULL,
                      action TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, detail TEXT)
                    """,
                ]),
            SQLMigration(
                version: 2, name: "management users; audit log by resource",
                statements: [
                    """
                    CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
                      token_hash TEXT NOT NULL UNIQUE, \(stamps))
                    """,
                    "CREATE INDEX audit_log_resource ON audit_log (resource_type, resource_id)",
                ]),
        ]
    }
}
