import Foundation
import Logging
import PostgresTestSupport
import SluiceCore
import Testing

@testable import SluiceStore

/// The stores the contract runs against.
enum StoreKind: String, Sendable, CustomStringConvertible {
    case sqlite
    case postgres
    var description: String { rawValue }
}

let testLogger: Logger = {
    var logger = Logger(label: "sluice-store-test")
    logger.logLevel =
        ProcessInfo.processInfo.environment["SLUICE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
    return logger
}()

/// A SQLite store in a temporary directory, removed afterwards.
func withSQLiteStore<T>(_ body: (SQLiteManagementStore, URL) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-store-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    let store = try await SQLiteManagementStore(directory: directory.path)
    return try await body(store, directory)
}

/// A PostgreSQL store on `url`, its pool running while `body` runs.
func withPostgresStore<T: Sendable>(
    url: String, timeout: Duration = .seconds(5), migrate: Bool = true,
    _ body: @Sendable (PostgresManagementStore) async throws -> T
) async throws -> T {
    var configuration = try PostgresStoreConfiguration(url: url)
    configuration.operationTimeout = timeout
    let store = try PostgresManagementStore(configuration: configuration, logger: testLogger)
    let running = Task { try await store.run() }
    defer { running.cancel() }
    if migrate { try await store.migrate() }
    return try await body(store)
}

/// A store of `kind` on a fresh database: a temporary SQLite file, or a PostgreSQL server of its own.
func withStore<T: Sendable>(
    _ kind: StoreKind, _ body: @Sendable (any ManagementStore) async throws -> T
) async throws
    -> T
{
    switch kind {
    case .sqlite:
        return try await withSQLiteStore { store, _ in try await body(store) }
    case .postgres:
        return try await withPostgres { server in
            try await withPostgresStore(url: server.url) { try await body($0) }
        }
    }
}

let actor = ChangeContext(actor: "alice")

/// A minimal v4 message API on the embedded log at `/<id>`.
func definition(_ id: String, path: String? = nil) -> String {
    """
    {"id":"\(id)","name":"\(id)","apiVersion":"1.0","definitionVersion":"4.0.0","type":"message",
     "listeners":[{"type":"http","paths":[{"path":"\(path ?? "/\(id)")"}],"entrypoints":[{"type":"http-post"},{"type":"http-get"}]}],
     "endpointGroups":[{"name":"default","type":"inmemory","endpoints":[{"name":"e","type":"inmemory","weight":1,
       "inheritConfiguration":false,"configuration":{"topic":"\(id)"}}]}],
     "plans":[],"flows":[],"analytics":{"enabled":false}}
    """
}

/// An API, an api-key plan, an application, a subscription and a key, all linked.
@discardableResult
func seedChain(
    _ store: any ManagementStore, prefix: String = ""
) async throws -> (
    api: ManagedAPI, plan: ManagedPlan, application: ManagedApplication, subscription: ManagedSubscription,
    key: ManagedAPIKey
) {
    let api = try await store.createAPI(
        ManagedAPI(id: "\(prefix)orders", name: "Orders", definition: definition("\(prefix)orders")), context: actor)
    let plan = try await store.createPlan(
        ManagedPlan(
            id: "\(prefix)orders-key", apiID: api.id, name: "Key", securityType: "api-key", status: .published,
            definition: #"{"mode":"STANDARD"}"#), context: actor)
    let application = try await store.createApplication(
        ManagedApplication(
            id: "\(prefix)shop", name: "Shop", description: "the shop", clientID: "\(prefix)shop-client"),
        context: actor)
    let subscription = try await store.createSubscription(
        ManagedSubscription(
            id: "\(prefix)sub", applicationID: application.id, apiID: api.id, planID: plan.id, status: .accepted,
            metadata: ["team": "sales"]), context: actor)
    let key = try await store.createAPIKey(
        ManagedAPIKey(
            id: "\(prefix)key", applicationID: application.id, hash: APIKeyHash(key: "\(prefix)secret-key"),
            subscriptions: [subscription.id]), context: actor)
    return (api, plan, application, subscription, key)
}

/// The error `body` throws, as a store error (fails the test when it throws none or another kind).
func storeError(
    _ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
) async -> StoreError? {
    do {
        try await body()
        Issue.record("expected a StoreError, got success", sourceLocation: sourceLocation)
        return nil
    } catch let error as StoreError {
        return error
    } catch {
        Issue.record("expected a StoreError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
