import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import SluiceCore
import SluiceGateway

// The harness of the gateway's end-to-end suites against real brokers: a gateway in this process on a loopback
// port, serving definitions from a temporary directory, and clients that talk to it over real sockets.

/// A gateway in this process, serving the definitions in a temporary directory.
package final class TestGateway: Sendable {
    package let gateway: Gateway
    package let port: Int
    package let directory: URL
    package let group: ServiceGroup
    package let task: Task<Void, any Error>

    package var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(gateway: Gateway, port: Int, directory: URL, group: ServiceGroup, task: Task<Void, any Error>) {
        self.gateway = gateway
        self.port = port
        self.directory = directory
        self.group = group
        self.task = task
    }

    /// Starts a gateway serving `definitions` (file name → contents); all of them must deploy. `nodeID` names the
    /// node (a fresh one when nil): a gateway restarted with the same one resumes its per-node broker sessions.
    package static func start(
        definitions: [String: String], nodeID: String? = nil,
        configure: @Sendable (inout GatewaySettings) -> Void = { _ in }
    ) async throws -> TestGateway {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-gateway-test-\(UUID().uuidString)")
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
        // Gateways in one test process all have port 0: each gets a name of its own unless the test gives one.
        settings.nodeID = nodeID ?? "test-node-\(UUID().uuidString.prefix(8))"
        configure(&settings)
        var logger = Logger(label: "sluice-gateway-test")
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
        return TestGateway(gateway: gateway, port: port, directory: directory, group: group, task: task)
    }

    /// Graceful shutdown, as on SIGTERM; waits for the gateway to stop and for its APIs' broker clients to close.
    package func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        for id in gateway.registry.deployedIDs { await gateway.registry.undeploy(id: id) }
        try? FileManager.default.removeItem(at: directory)
    }
}

package struct HarnessFailure: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// Runs `body` against a fresh gateway and always stops it.
package func withTestGateway<T>(
    _ definitions: [String: String],
    nodeID: String? = nil,
    configure: @Sendable (inout GatewaySettings) -> Void = { _ in },
    isolation: isolated (any Actor)? = #isolation,
    _ body: (TestGateway) async throws -> T
) async throws -> T {
    let gateway = try await TestGateway.start(definitions: definitions, nodeID: nodeID, configure: configure)
    do {
        let result = try await body(gateway)
        await gateway.stop()
        return result
    } catch {
        await gateway.stop()
        throw error
    }
}

// MARK: - HTTP clients

package let testHTTPClient = HTTPClient(
    eventLoopGroupProvider: .singleton, configuration: .init(timeout: .init(connect: .seconds(5), read: .seconds(30))))

package struct CollectedResponse: Sendable {
    package var status: Int
    package var headers: [(String, String)]
    package var body: String

    package func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    package var json: JSONValue? { try? JSONValue.parse(json: Data(body.utf8)) }
}

package func httpCall(
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
package struct PolledMessage: Sendable, Equatable {
    package var id: String?
    package var content: String
    package var headers: [String: [String]]
    package var metadata: [String: String]
}

/// An http-get poll's answer in JSON: items, and the next cursor.
package struct PollAnswer: Sendable {
    package var status: Int
    package var items: [PolledMessage]
    package var nextCursor: String?
    package var clientIdentifier: String?
    package var body: String
}

package func poll(
    _ url: String, cursor: String? = nil, limit: Int? = nil, clientIdentifier: String? = nil,
    headers extra: [(String, String)] = []
) async throws -> PollAnswer {
    var query: [String] = []
    if let cursor {
        query.append("cursor=\(cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? cursor)")
    }
    if let limit { query.append("limit=\(limit)") }
    var headers = [("Accept", "application/json")]
    if let clientIdentifier { headers.append(("X-Gravitee-Client-Identifier", clientIdentifier)) }
    headers += extra
    let response = try await httpCall(
        .GET, url + (query.isEmpty ? "" : "?" + query.joined(separator: "&")), headers: headers)
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
            PolledMessage(
                id: item["id"]?.stringValue, content: item["content"]?.stringValue ?? "", headers: headers,
                metadata: metadata))
    }
    return PollAnswer(
        status: response.status, items: items,
        nextCursor: response.json?["pagination"]?["nextCursor"]?.stringValue,
        clientIdentifier: response.header("X-Gravitee-Client-Identifier"), body: response.body)
}

// MARK: - Server-Sent Events

package struct ServerSentEvent: Sendable, Equatable {
    package var id: String?
    package var event: String?
    package var data: String?
    package var comments: [String] = []
}

// MARK: - Time limits

/// Runs `operation`, failing if it takes longer than `limit` (a hang fails the test instead of stalling the run).
package func within<T: Sendable>(
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
package func eventually<T>(
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
