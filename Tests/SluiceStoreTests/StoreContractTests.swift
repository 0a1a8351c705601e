import Foundation
import PostgresTestSupport
import SluiceCore
import Testing

@testable import SluiceStore

/// The management store's contract on SQLite, in a temporary directory.
@Suite("management store contract: SQLite")
struct SQLiteStoreContractTests {
    @Test("create, read, update and delete every resource") func crud() async throws {
        try await withStore(.sqlite, StoreContract.crud)
    }
    @Test("an API imported with its plans: all or nothing") func importing() async throws {
        try await withStore(.sqlite, StoreContract.importing)
    }
    @Test("deleting an API or an application takes what hangs on it") func cascades() async throws {
        try await withStore(.sqlite, StoreContract.cascades)
    }
    @Test("duplicate ids, stale versions and taken unique values are conflicts") func conflicts() async throws {
        try await withStore(.sqlite, StoreContract.conflicts)
    }
    @Test("lists page and filter") func paging() async throws {
        try await withStore(.sqlite, StoreContract.paging)
    }
    @Test("every change writes its event, in order") func events() async throws {
        try await withStore(.sqlite, StoreContract.events)
    }
    @Test("old events are pruned as a prefix, keeping the newest; readers can tell what they missed")
    func pruning() async throws {
        try await withStore(.sqlite, StoreContract.pruning)
    }
    @Test("every change writes an audit entry") func audit() async throws {
        try await withStore(.sqlite, StoreContract.audit)
    }
    @Test("bad records are refused with every problem, by field") func badInput() async throws {
        try await withStore(.sqlite, StoreContract.badInput)
    }
}

/// The same contract on a real PostgreSQL server started for each test.
@Suite(
    "management store contract: PostgreSQL",
    .enabled(if: PostgresEnvironment.shouldRun, Comment(rawValue: PostgresEnvironment.skipReason)))
struct PostgresStoreContractTests {
    @Test("create, read, update and delete every resource") func crud() async throws {
        try await withStore(.postgres, StoreContract.crud)
    }
    @Test("an API imported with its plans: all or nothing") func importing() async throws {
        try await withStore(.postgres, StoreContract.importing)
    }
    @Test("deleting an API or an application takes what hangs on it") func cascades() async throws {
        try await withStore(.postgres, StoreContract.cascades)
    }
    @Test("duplicate ids, stale versions and taken unique values are conflicts") func conflicts() async throws {
        try await withStore(.postgres, StoreContract.conflicts)
    }
    @Test("lists page and filter") func paging() async throws {
        try await withStore(.postgres, StoreContract.paging)
    }
    @Test("every change writes its event, in order") func events() async throws {
        try await withStore(.postgres, StoreContract.events)
    }
    @Test("old events are pruned as a prefix, keeping the newest; readers can tell what they missed")
    func pruning() async throws {
        try await withStore(.postgres, StoreContract.pruning)
    }
    @Test("every change writes an audit entry") func audit() async throws {
        try await withStore(.postgres, StoreContract.audit)
    }
    @Test("bad records are refused with every problem, by field") func badInput() async throws {
        try await withStore(.postgres, StoreContract.badInput)
    }
}
