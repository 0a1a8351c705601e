import Foundation
import GatewayTestSupport
import Logging
import PostgresTestSupport
import ServiceLifecycle
import SluiceCore
import SluiceGateway
import SluiceStore
import Testing

/// A gateway in this process that serves what a management store holds (a node), on a loopback port.
final class StoreGateway: Sendable {
    let gateway: Gateway
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let port: Int

    var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(gateway: Gateway, group: ServiceGroup, task: Task<Void, any Error>, port: Int) {
        self.gateway = gateway
        self.group = group
        self.task = task
        self.port = port
    }

    /// Starts a node on `store` (a PostgreSQL store runs among the node's services: give each node its own) and
    /// waits for its first load from the store.
    static func start(
        store: any ManagementStore, rateLimitStore: (any RateLimitStore)? = nil, pollIntervalMs: Int = 500,
        seed: String? = nil
    ) async throws -> StoreGateway {
        var settings = GatewaySettings()
        settings.host = "127.0.0.1"
        settings.port = 0
        settings.apis = seed
        settings.reloadIntervalMs = 60_000
        settings.drainTimeoutSeconds = 2
        settings.store.pollIntervalMs = pollIntervalMs
        settings.nodeID = "store-node-\(UUID().uuidString.prefix(8))"
        let gateway = Gateway(
            settings: settings, logger: testLogger, rateLimitStore: rateLimitStore, managementStore: store)
        var configuration = ServiceGroupConfiguration(
            services: try gateway.services().map { .init(service: $0) }, gracefulShutdownSignals: [],
            logger: testLogger)
        configuration.maximumGracefulShutdownDuration = .seconds(5)
        let group = ServiceGroup(configuration: configuration)
        let task = Task { try await group.run() }
        let port = await gateway.port()
        await gateway.storeSync?.waitForFirstSync()
        return StoreGateway(gateway: gateway, group: group, task: task, port: port)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        for id in gateway.registry.deployedIDs { await gateway.registry.undeploy(id: id) }
    }
}

/// Runs `body` with a node on `store`, and always stops it.
func withStoreGateway<T>(
    store: any ManagementStore, rateLimitStore: (any RateLimitStore)? = nil, seed: String? = nil,
    pollIntervalMs: Int = 500, isolation: isolated (any Actor)? = #isolation, _ body: (StoreGateway) async throws -> T
) async throws -> T {
    let node = try await StoreGateway.start(
        store: store, rateLimitStore: rateLimitStore, pollIntervalMs: pollIntervalMs, seed: seed)
    do {
        let result = try await body(node)
        await node.stop()
        return result
    } catch {
        await node.stop()
        throw error
    }
}

let testLogger: Logger = {
    var logger = Logger(label: "sluice-store-sync-test")
    logger.logLevel =
        ProcessInfo.processInfo.environment["SLUICE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
    return logger
}()

/// A PostgreSQL store on `url` (not running: a node runs it, or ``withRunningStore(_:_:)``).
func postgresStore(_ url: String, timeout: Duration = .seconds(2)) throws -> PostgresManagementStore {
    var configuration = try PostgresStoreConfiguration(url: url)
    configuration.operationTimeout = timeout
    return try PostgresManagementStore(configuration: configuration, logger: testLogger)
}

/// Runs a PostgreSQL store's pool while `body` runs (the management side of a test).
func withRunningStore<T>(
    _ store: PostgresManagementStore, isolation: isolated (any Actor)? = #isolation,
    _ body: (PostgresManagementStore) async throws -> T
) async throws -> T {
    let running = Task { try await store.run() }
    defer { running.cancel() }
    try await store.migrate()
    return try await body(store)
}

let management = ChangeContext(actor: "test")
let validKey = "store-key-0123456789"

/// A v4 message API on the embedded log at `/<id>`, with these flows.
func definition(_ id: String, flows: String = "[]", endpointType: String = "inmemory") -> String {
    """
    {"id":"\(id)","name":"\(id)","apiVersion":"1.0","definitionVersion":"4.0.0","type":"message",
     "listeners":[{"type":"http","paths":[{"path":"/\(id)"}],"entrypoints":[{"type":"http-post"},{"type":"http-get"}]}],
     "endpointGroups":[{"name":"default","type":"\(endpointType)","endpoints":[{"name":"e","type":"\(endpointType)","weight":1,
       "inheritConfiguration":false,"configuration":{"topic":"\(id)"}}]}],
     "plans":[],"flows":\(flows),"analytics":{"enabled":false}}
    """
}

/// A STARTED API guarded by an api-key plan, an application subscribed to it, and `validKey`.
func createKeyedAPI(_ store: any ManagementStore, id: String = "orders", flows: String = "[]") async throws {
    _ = try await store.createAPI(
        ManagedAPI(id: id, name: id, definition: definition(id, flows: flows), lifecycleState: .started),
        context: management)
    _ = try await store.createPlan(
        ManagedPlan(
            id: "\(id)-key", apiID: id, name: "Key", securityType: "api-key", status: .published,
            definition: #"{"mode":"STANDARD"}"#), context: management)
    _ = try await store.createApplication(ManagedApplication(id: "shop", name: "Shop"), context: management)
    _ = try await store.createSubscription(
        ManagedSubscription(id: "sub", applicationID: "shop", apiID: id, planID: "\(id)-key", status: .accepted),
        context: management)
    _ = try await store.createAPIKey(
        ManagedAPIKey(id: "key", applicationID: "shop", hash: APIKeyHash(key: validKey), subscriptions: ["sub"]),
        context: management)
}

func revokeKey(_ store: any ManagementStore, id: String = "key") async throws {
    var key = try await store.apiKey(id: id)
    key.revoked = true
    _ = try await store.updateAPIKey(
        key, expectedVersion: key.version, context: ChangeContext(actor: "test", action: "apiKey.revoked"))
}

func post(_ node: StoreGateway, _ path: String = "/orders", key: String? = validKey) async throws -> Int {
    try await httpCall(
        .POST, "\(node.baseURL)\(path)", headers: key.map { [("X-Gravitee-Api-Key", $0)] } ?? [], body: "hello"
    ).status
}
