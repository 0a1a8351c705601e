import AsyncHTTPClient
import Foundation
import Logging
import MQTT5
import MQTT5TestSupport
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import SluiceCore
import SluiceGateway
import Testing

// The harness of the mqtt5 endpoint suites: a gateway in this process on a loopback port, serving definitions
// whose mqtt5 endpoint points at the test's mosquitto, and clients that talk to it over real sockets.

/// A gateway in this process, serving the definitions in a temporary directory.
final class MQTT5TestGateway: Sendable {
    let gateway: Gateway
    let port: Int
    let directory: URL
    let group: ServiceGroup
    let task: Task<Void, any Error>

    var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(gateway: Gateway, port: Int, directory: URL, group: ServiceGroup, task: Task<Void, any Error>) {
        self.gateway = gateway
        self.port = port
        self.directory = directory
        self.group = group
        self.task = task
    }

    /// Starts a gateway serving `definitions` (file name → contents); all of them must deploy.
    static func start(definitions: [String: String]) async throws -> MQTT5TestGateway {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-mqtt5-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, contents) in definitions {
            try contents.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        var settings = GatewaySettings()
        settings.host = "127.0.0.1"
        settings.port = 0
        settings.apis = directory.path
        settings.reloadIntervalMs = 60_000
        settings.drainTimeoutSeconds = 5
        var logger = Logger(label: "sluice-mqtt5-test")
        logger.logLevel =
            ProcessInfo.processInfo.environment["SLUICE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
        let gateway = Gateway(settings: settings, logger: logger)
        let failed = await gateway.deployDefinitions()
        guard failed.isEmpty else {
            throw HarnessFailure("definitions did not deploy: \(failed.map { "\($0.source): \($0.diagnostics)" })")
        }
        var configuration = ServiceGroupConfiguration(
            services: try gateway.services().map { .init(service: $0) }, gracefulShutdownSignals: [], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(8)
        let group = ServiceGroup(configuration: configuration)
        let task = Task { try await group.run() }
        let port = await gateway.port()
        return MQTT5TestGateway(gateway: gateway, port: port, directory: directory, group: group, task: task)
    }

    /// Graceful shutdown, as on SIGTERM; waits for the gateway to stop and for its APIs' MQTT clients to close.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        for id in gateway.registry.deployedIDs { await gateway.registry.undeploy(id: id) }
        try? FileManager.default.removeItem(at: directory)
    }
}

struct HarnessFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` against a fresh gateway and always stops it.
func withMQTT5Gateway<T>(
    _ definitions: [String: String],
    isolation: isolated (any Actor)? = #isolation,
    _ body: (MQTT5TestGateway) async throws -> T
) async throws -> T {
    let gateway = try await MQTT5TestGateway.start(definitions: definitions)
    do {
        let result = try await body(gateway)
        await gateway.stop()
        return result
    } catch {
        await gateway.stop()
        throw error
    }
}

/// A Gravitee v4 definition of a message API on `path` whose endpoint is mqtt5.
enum MQTT5API {
    static func definition(
        id: String, path: String, port: Int, entrypoints: String, shared: String
    ) -> String {
        """
        { "id": "\(id)", "name": "\(id)", "apiVersion": "1.0", "definitionVersion": "4.0.0", "type": "message",
          "listeners": [{ "type": "http", "paths": [{ "path": "\(path)" }], "entrypoints": \(entrypoints) }],
          "endpointGroups": [{ "name": "default-group", "type": "mqtt5",
            "endpoints": [{ "name": "default", "type": "mqtt5", "weight": 1, "inheritConfiguration": false,
              "configuration": { "serverHost": "127.0.0.1", "serverPort": \(port) },
              "sharedConfigurationOverride": \(shared) }] }],
          "flows": [], "analytics": { "enabled": false } }
        """
    }

    static func consumer(_ topic: String) -> String {
        #""consumer": { "enabled": true, "topic": "\#(topic)" }"#
    }

    static func producer(_ topic: String, extra: String = "") -> String {
        #""producer": { "enabled": true, "topic": "\#(topic)"\#(extra) }"#
    }

    static func entrypoint(_ type: String, qos: String, configuration: String = "{}") -> String {
        #"{ "type": "\#(type)", "qos": "\#(qos)", "configuration": \#(configuration) }"#
    }
}

/// Whether the broker suites can run here (mosquitto and paho-mqtt), and why not.
enum MQTT5EndpointTestEnvironment {
    static var enabled: Bool { PahoEnvironment.shouldRun }
    static var skipReason: Comment { Comment(rawValue: PahoEnvironment.skipReason) }
}

// MARK: - HTTP clients

let testHTTPClient = HTTPClient(
    eventLoopGroupProvider: .singleton, configuration: .init(timeout: .init(connect: .seconds(5), read: .seconds(30))))

struct CollectedResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: String

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var json: JSONValue? { try? JSONValue.parse(json: Data(body.utf8)) }
}

func httpCall(
    _ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: String? = nil,
    timeout: TimeAmount = .seconds(30)
) async throws -> CollectedResponse {
    var request = HTTPClientRequest(url: url)
    request.method = method
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body { request.body = .bytes(ByteBuffer(string: body)) }
    let response = try await testHTTPClient.execute(request, timeout: timeout)
    let collected = try await response.body.collect(upTo: 16 << 20)
    return CollectedResponse(
        status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
        body: String(buffer: collected))
}

/// One item of an http-get answer in JSON.
struct PolledMessage: Sendable, Equatable {
    var content: String
    var headers: [String: [String]]
    var metadata: [String: String]
}

/// An http-get poll's answer in JSON.
struct PollAnswer: Sendable {
    var status: Int
    var items: [PolledMessage]
    var body: String
}

func poll(_ url: String, clientIdentifier: String? = nil) async throws -> PollAnswer {
    var headers = [("Accept", "application/json")]
    if let clientIdentifier { headers.append(("X-Gravitee-Client-Identifier", clientIdentifier)) }
    let response = try await httpCall(.GET, url, headers: headers)
    var items: [PolledMessage] = []
    for item in response.json?["items"]?.arrayValue ?? [] {
        var headers: [String: [String]] = [:]
        for (name, values) in item["headers"]?.objectValue?.entries ?? [] {
            headers[name] = values.arrayValue?.compactMap(\.stringValue) ?? []
        }
        var metadata: [String: String] = [:]
        for (name, value) in item["metadata"]?.objectValue?.entries ?? [] {
            if case .number(let number) = value {
                metadata[name] = String(Int64(number))
            } else {
                metadata[name] = value.stringValue
            }
        }
        items.append(
            PolledMessage(content: item["content"]?.stringValue ?? "", headers: headers, metadata: metadata))
    }
    return PollAnswer(status: response.status, items: items, body: response.body)
}

// MARK: - Server-Sent Events

struct ServerSentEvent: Sendable, Equatable {
    var id: String?
    var event: String?
    var data: String?
    var comments: [String] = []
}

// MARK: - Time limits

/// Runs `operation`, failing if it takes longer than `limit` (a hang fails the test instead of stalling the run).
func within<T: Sendable>(
    _ limit: Duration, _ what: String = "operation", _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw HarnessFailure("\(what) did not finish within \(limit)")
        }
        return value
    }
}

/// Retries `body` until it returns a value, at most `timeout`.
func eventually<T>(
    timeout: Duration = .seconds(20), interval: Duration = .milliseconds(200),
    isolation: isolated (any Actor)? = #isolation,
    _ body: () async throws -> T?
) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    var lastError: (any Error)?
    while ContinuousClock.now < deadline {
        do {
            if let value = try await body() { return value }
        } catch {
            lastError = error
        }
        try await Task.sleep(for: interval)
    }
    throw HarnessFailure("no result within \(timeout)\(lastError.map { "; last error: \($0)" } ?? "")")
}

/// A fresh topic per test.
func uniqueTopic(_ prefix: String) -> String {
    "sluice/\(prefix)/\(UUID().uuidString.prefix(8).lowercased())"
}

/// A message for paho to publish: UTF-8 content and user properties.
func pahoMessage(
    topic: String, _ content: String, userProperties: [(String, String)] = [], qos: Int = 1
) -> PahoMessage {
    var properties = MQTTProperties()
    properties.userProperties = userProperties.map { MQTTUserProperty(name: $0.0, value: $0.1) }
    return PahoMessage(
        topic: topic, payload: Array(content.utf8), qos: qos == 0 ? .atMostOnce : .atLeastOnce,
        properties: properties)
}
