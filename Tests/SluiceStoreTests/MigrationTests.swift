import Foundation
import PostgresTestSupport
import SluiceCore
import Testing

@testable import SluiceStore

/// Versioned migrations: each applied once, in order; a database made by an older release upgrades with its data.
@Suite("store migrations")
struct MigrationTests {
    @Test("a SQLite database at schema 1 upgrades in place, keeping its data, and a second opening changes nothing")
    func sqliteUpgrade() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-mig-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(SQLiteManagementStore.fileName).path
        // What an older release left: schema 1 only, with an API and an event in it.
        do {
            let old = try SQLiteManagementStore(path: path, migrating: false)
            #expect(try await old.backend.migrate(upTo: 1) == [1])
            _ = try await old.createAPI(
                ManagedAPI(id: "legacy", name: "Legacy", definition: definition("legacy")), context: actor)
            let users = await storeError { _ = try await old.listUsers(page: .all) }
            #expect(users?.code == .unavailable)  // no users table yet
        }
        let store = try await SQLiteManagementStore(path: path)
        #expect(try await store.core.read { try await SQLMigrator.appliedVersions(on: $0) } == [1, 2])
        #expect(try await store.api(id: "legacy").name == "Legacy")
        #expect(try await store.events(after: 0, limit: 10).map(\.resourceID) == ["legacy"])
        _ = try await store.createUser(
            ManagementUser(id: "u", name: "admin", role: .admin, tokenHash: APIKeyHash(key: "t")), context: actor)
        // Opening again applies nothing.
        #expect(try await store.backend.migrate(upTo: nil) == [])
        let again = try await SQLiteManagementStore(directory: directory.path)
        #expect(try await again.user(id: "u").name == "admin")
    }

    @Test("a database migrated by a newer release is refused, not damaged") func newerSchema() async throws {
        try await withSQLiteStore { store, directory in
            _ = try await store.core.write { connection in
                try await connection.execute(
                    "INSERT INTO schema_versions (version, name, applied_at) VALUES (99, 'future', 0)")
            }
            let error = await storeError { try await store.migrate() }
            #expect(error?.code == .unavailable && error?.message.contains("version 99") == true)
            #expect(try await store.listAPIs(APIFilter(), page: .all).totalCount == 0)
        }
    }

    @Test(
        "a PostgreSQL database at schema 1 upgrades in place; nodes migrating at once apply each step once",
        .enabled(if: PostgresEnvironment.shouldRun, Comment(rawValue: PostgresEnvironment.skipReason)))
    func postgresUpgrade() async throws {
        try await withPostgres { server in
            try await withPostgresStore(url: server.url, migrate: false) { old in
                #expect(try await old.backend.migrate(upTo: 1) == [1])
                _ = try await old.createAPI(
                    ManagedAPI(id: "legacy", name: "Legacy", definition: definition("legacy")), context: actor)
            }
            #expect(
                try server.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_versions") == "1")
            // Three nodes start at once on the old database.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 {
                    group.addTask { try await withPostgresStore(url: server.url) { _ in } }
                }
                try await group.waitForAll()
            }
            #expect(
                try server.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_versions")
                    == "1,2,3")
            try await withPostgresStore(url: server.url) { store in
                #expect(try await store.api(id: "legacy").name == "Legacy")
                _ = try await store.createUser(
                    ManagementUser(id: "u", name: "admin", role: .admin, tokenHash: APIKeyHash(key: "t")),
                    context: actor)
                #expect(try await store.backend.migrate(upTo: nil) == [])
            }
        }
    }

    @Test("the SQLite store keeps its data across openings of its directory") func persistence() async throws {
        try await withSQLiteStore { store, directory in
            try await seedChain(store)
            let reopened = try await SQLiteManagementStore(directory: directory.path)
            #expect(try await reopened.apiKey(id: "key").subscriptions == ["sub"])
            #expect(try await reopened.latestEventSequence() == 5)
        }
    }

    @Test("PostgreSQL URLs are read, and bad ones refused with the reason") func postgresURLs() throws {
        let configuration = try PostgresStoreConfiguration(
            url: "postgresql://gw:p%40ss@db.example:6543/sluice?sslmode=require")
        #expect(configuration.host == "db.example" && configuration.port == 6543 && configuration.username == "gw")
        #expect(configuration.password == "p@ss" && configuration.database == "sluice" && configuration.tls == .require)
        for bad in [
            "mysql://u@h/d", "postgres://h/d", "postgres://u@/d", "postgres://u@h/d?sslmode=maybe",
            "postgres://u@h/d?x=1",
        ] {
            #expect(throws: StoreError.self, "\(bad)") { try PostgresStoreConfiguration(url: bad) }
        }
    }

    @Test(
        "an unreachable PostgreSQL fails operations as unavailable within the operation timeout",
        .enabled(if: PostgresEnvironment.shouldRun, Comment(rawValue: PostgresEnvironment.skipReason)))
    func unreachable() async throws {
        let port = try await withPostgres { $0.port }  // a port nobody listens on any more
        let started = ContinuousClock.now
        let error = await storeError {
            try await withPostgresStore(url: "postgres://sluice@127.0.0.1:\(port)/postgres", timeout: .seconds(1)) {
                _ in
            }
        }
        #expect(error?.code == .unavailable && error?.isRetriable == true)
        #expect(ContinuousClock.now - started < .seconds(5))
    }
}
