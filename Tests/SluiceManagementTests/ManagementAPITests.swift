import PostgresTestSupport
import Testing

/// The management API end to end over HTTP, on SQLite in a temporary directory.
@Suite("management API: SQLite")
struct ManagementAPISQLiteTests {
    @Test("APIs: import, read, list, versions, start, stop, deploy, export, delete")
    func apis() async throws { try await withManagement(.sqlite, ManagementScenarios.apis) }

    @Test("plans, applications, subscriptions and API keys")
    func access() async throws { try await withManagement(.sqlite, ManagementScenarios.access) }

    @Test("webhook subscriptions: the configuration is checked as the gateway checks it")
    func webhooks() async throws {
        try await withManagement(.sqlite, callbackPolicy: .init(allowList: ["127.0.0.1", "example.com"])) {
            try await ManagementScenarios.webhooks($0)
        }
    }

    @Test("bearer tokens, roles, users and the audit log")
    func users() async throws { try await withManagement(.sqlite, ManagementScenarios.users) }
}

/// The same, on a real PostgreSQL server started for each test.
@Suite(
    "management API: PostgreSQL",
    .enabled(if: PostgresEnvironment.shouldRun, Comment(rawValue: PostgresEnvironment.skipReason)))
struct ManagementAPIPostgresTests {
    @Test("APIs: import, read, list, versions, start, stop, deploy, export, delete")
    func apis() async throws { try await withManagement(.postgres, ManagementScenarios.apis) }

    @Test("plans, applications, subscriptions and API keys")
    func access() async throws { try await withManagement(.postgres, ManagementScenarios.access) }

    @Test("webhook subscriptions: the configuration is checked as the gateway checks it")
    func webhooks() async throws {
        try await withManagement(.postgres, callbackPolicy: .init(allowList: ["127.0.0.1", "example.com"])) {
            try await ManagementScenarios.webhooks($0)
        }
    }

    @Test("bearer tokens, roles, users and the audit log")
    func users() async throws { try await withManagement(.postgres, ManagementScenarios.users) }
}
