import AsyncHTTPClient
import Foundation
import GatewayTestSupport
import Logging
import NIOHTTP1
import PostgresTestSupport
import ServiceLifecycle
import SluiceCore
import SluiceGateway
import SluiceManagement
import SluiceStore
import Testing

/// The stores the management API runs on in these tests.
enum StoreKind: String, Sendable, CustomStringConvertible {
    case sqlite
    case postgres
    var description: String { rawValue }
}

let testLogger: Logger = {
    var logger = Logger(label: "sluice-management-test")
    logger.logLevel =
        ProcessInfo.processInfo.environment["SLUICE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
    return logger
}()

let adminToken = "admin-token-0123456789abcdef"
let environment = "/management/v2/environments/DEFAULT"
let organization = "/management/v2/organizations/DEFAULT"

/// An answer of the management API, read.
struct Answer: Sendable {
    var status: Int
    var headers: [(String, String)]
    var text: String

    var json: JSONValue? { try? JSONValue.parse(json: Data(text.utf8)) }
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    var etag: String? { header("ETag") }

    /// The field at a dotted path, as text.
    subscript(_ path: String) -> String { ManagementOutput.field(json ?? .null, path) }

    /// Whether this is a problem detail with this status (RFC 9457: type, title, status, detail).
    var isProblem: Bool {
        guard header("Content-Type")?.hasPrefix("application/problem+json") == true, let json else { return false }
        return json["type"]?.stringValue != nil && json["title"]?.stringValue != nil
            && json["status"] == .number(Double(status)) && json["detail"]?.stringValue != nil
    }

    /// The paths of the problems listed.
    var problemPaths: [String] { json?["problems"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? [] }
}

/// A management API in this process, on a loopback port, over a store.
final class ManagementNode: Sendable {
    let server: ManagementServer
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let port: Int
    let store: any ManagementStore

    var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(server: ManagementServer, group: ServiceGroup, task: Task<Void, any Error>, port: Int) {
        self.server = server
        self.group = group
        self.task = task
        self.port = port
        self.store = server.store
    }

    static func start(
        store: any ManagementStore, maxBodyBytes: Int = 1 << 20,
        callbackPolicy: WebhookCallbackPolicy = .init(), runStore: Bool = true, gateway: Gateway? = nil
    ) async throws -> ManagementNode {
        var configuration = ManagementConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.adminToken = adminToken
        configuration.maxRequestBodyBytes = maxBodyBytes
        configuration.callbackPolicy = callbackPolicy
        configuration.tokenCacheLifetime = .milliseconds(200)
        let server = ManagementServer(
            store: store, configuration: configuration, logger: testLogger, gateway: gateway)
        var services: [any Service] = []
        if runStore, let service = store as? any Service { services.append(service) }
        services.append(server)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map { .init(service: $0) }, gracefulShutdownSignals: [], logger: testLogger))
        let task = Task { try await group.run() }
        let port: Int
        do {
            port = try await server.port()
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        return ManagementNode(server: server, group: group, task: task, port: port)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    /// Sends a request; `token` nil sends none.
    func call(
        _ method: HTTPMethod, _ path: String, body: String? = nil, token: String? = adminToken,
        headers: [(String, String)] = []
    ) async throws -> Answer {
        var all = headers
        if let token { all.append(("Authorization", "Bearer \(token)")) }
        if body != nil { all.append(("Content-Type", "application/json")) }
        let response = try await httpCall(method, baseURL + path, headers: all, body: body)
        return Answer(status: response.status, headers: response.headers, text: response.body)
    }
}

/// Runs `body` with a management API on a fresh store of `kind`, and always stops it.
func withManagement<T: Sendable>(
    _ kind: StoreKind, maxBodyBytes: Int = 1 << 20, callbackPolicy: WebhookCallbackPolicy = .init(),
    _ body: @Sendable (ManagementNode) async throws -> T
) async throws -> T {
    switch kind {
    case .sqlite:
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-mgmt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await SQLiteManagementStore(directory: directory.path)
        return try await run(store, maxBodyBytes: maxBodyBytes, callbackPolicy: callbackPolicy, body)
    case .postgres:
        return try await withPostgres { server in
            var configuration = try PostgresStoreConfiguration(url: server.url)
            configuration.operationTimeout = .seconds(5)
            let store = try PostgresManagementStore(configuration: configuration, logger: testLogger)
            return try await run(store, maxBodyBytes: maxBodyBytes, callbackPolicy: callbackPolicy, body)
        }
    }
}

private func run<T: Sendable>(
    _ store: any ManagementStore, maxBodyBytes: Int, callbackPolicy: WebhookCallbackPolicy,
    _ body: @Sendable (ManagementNode) async throws -> T
) async throws -> T {
    let node = try await ManagementNode.start(store: store, maxBodyBytes: maxBodyBytes, callbackPolicy: callbackPolicy)
    do {
        let result = try await body(node)
        await node.stop()
        return result
    } catch {
        await node.stop()
        throw error
    }
}

/// A v4 message API on the embedded log at `/<id>` with an api-key plan that accepts subscriptions at once.
func definition(_ id: String, path: String? = nil, withPlan: Bool = true) -> String {
    """
    {"id":"\(id)","name":"\(id) API","apiVersion":"1.0","definitionVersion":"4.0.0","type":"message",
     "listeners":[{"type":"http","paths":[{"path":"\(path ?? "/\(id)")"}],
       "entrypoints":[{"type":"http-post"},{"type":"http-get"},{"type":"sse"}]}],
     "endpointGroups":[{"name":"default","type":"inmemory","endpoints":[{"name":"e","type":"inmemory","weight":1,
       "inheritConfiguration":false,"configuration":{"topic":"\(id)"}}]}],
     "plans":[\(withPlan ? #"{"id":"\#(id)-key","name":"Key","security":{"type":"api-key"},"mode":"STANDARD","validation":"AUTO","status":"PUBLISHED"}"# : "")],
     "flows":[],"analytics":{"enabled":false}}
    """
}

/// A gateway in this process over a management store, on a loopback port, until stopped.
struct RunningGateway: Sendable {
    let gateway: Gateway
    let group: ServiceGroup
    let task: Task<Void, any Error>

    /// `configure` adjusts the settings: loopback, port 0, a 2 s drain and a 500 ms store poll by default.
    static func start(
        store: any ManagementStore, configure: (inout GatewaySettings) -> Void = { _ in }
    ) throws
        -> RunningGateway
    {
        var settings = GatewaySettings()
        settings.host = "127.0.0.1"
        settings.port = 0
        settings.drainTimeoutSeconds = 2
        settings.store.pollIntervalMs = 500
        configure(&settings)
        let gateway = Gateway(settings: settings, logger: testLogger, managementStore: store)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: try gateway.services().map { .init(service: $0) }, gracefulShutdownSignals: [],
                logger: testLogger))
        return RunningGateway(gateway: gateway, group: group, task: Task { try await group.run() })
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
