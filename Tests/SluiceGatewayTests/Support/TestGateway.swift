import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import SluiceCore
import SluiceEntrypoints
import SluiceGateway
import Synchronization
import Testing

/// A gateway running in this process on an ephemeral loopback port, over a temporary definitions directory.
final class TestGateway: Sendable {
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

    /// Starts a gateway serving `definitions` (file name → contents).
    static func start(
        definitions: [String: String],
        reloadIntervalMs: Int = 200,
        rateLimitStore: (any RateLimitStore)? = nil,
        webhookResolver: WebhookHostResolver = .system,
        configure: (inout GatewaySettings) -> Void = { _ in }
    ) async throws -> TestGateway {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, contents) in definitions {
            try contents.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        var settings = GatewaySettings()
        settings.host = "127.0.0.1"
        settings.port = 0
        settings.apis = directory.path
        settings.reloadIntervalMs = reloadIntervalMs
        settings.drainTimeoutSeconds = 5
        configure(&settings)
        var logger = Logger(label: "sluice-test")
        logger.logLevel = .error
        let gateway = Gateway(
            settings: settings, logger: logger, rateLimitStore: rateLimitStore, webhookResolver: webhookResolver)
        _ = await gateway.deployDefinitions()
        var configuration = ServiceGroupConfiguration(
            services: try gateway.services().map { .init(service: $0) }, gracefulShutdownSignals: [], logger: logger
        )
        configuration.maximumGracefulShutdownDuration = .seconds(8)
        let group = ServiceGroup(configuration: configuration)
        let task = Task { try await group.run() }
        let port = await gateway.port()
        return TestGateway(gateway: gateway, port: port, directory: directory, group: group, task: task)
    }

    /// Writes (or replaces) a definition file.
    func write(_ name: String, _ contents: String) throws {
        try contents.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    func remove(_ name: String) throws {
        try FileManager.default.removeItem(at: directory.appendingPathComponent(name))
    }

    /// Graceful shutdown, as on SIGTERM; waits for the gateway to stop.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
        try? FileManager.default.removeItem(at: directory)
    }

    /// Polls until `condition` holds, at most `timeout`.
    func eventually(timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }
}

/// Runs `body` against a fresh gateway and always stops it.
func withGateway(
    _ definitions: [String: String],
    reloadIntervalMs: Int = 200,
    rateLimitStore: (any RateLimitStore)? = nil,
    webhookResolver: WebhookHostResolver = .system,
    configure: (inout GatewaySettings) -> Void = { _ in },
    _ body: (TestGateway) async throws -> Void
) async throws {
    let gateway = try await TestGateway.start(
        definitions: definitions, reloadIntervalMs: reloadIntervalMs, rateLimitStore: rateLimitStore,
        webhookResolver: webhookResolver, configure: configure)
    do {
        try await body(gateway)
    } catch {
        try? await gateway.stop()
        throw error
    }
    try await gateway.stop()
}

/// A real HTTP client response, body collected.
struct CollectedResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: String

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var json: JSONValue? { try? JSONValue.parse(json: Data(body.utf8)) }
}

let testHTTPClient = HTTPClient(
    eventLoopGroupProvider: .singleton, configuration: .init(timeout: .init(connect: .seconds(5), read: .seconds(30))))

func httpCall(
    _ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: String? = nil,
    timeout: TimeAmount = .seconds(20)
) async throws -> CollectedResponse {
    var request = HTTPClientRequest(url: url)
    request.method = method
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body { request.body = .bytes(ByteBuffer(string: body)) }
    let response = try await testHTTPClient.execute(request, timeout: timeout)
    let body = try await response.body.collect(upTo: 16 << 20)
    return CollectedResponse(
        status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
        body: String(buffer: body)
    )
}

/// One parsed Server-Sent Event: its fields, and the comment lines that came with it.
struct ServerSentEvent: Sendable, Equatable {
    var id: String?
    var event: String?
    var data: String?
    var retry: Int?
    var comments: [String] = []
}

/// Reads an SSE response as the EventSource parsing rules describe, event by event.
final class SSEReader: @unchecked Sendable {
    private var iterator: HTTPClientResponse.Body.AsyncIterator
    private var pending = ""
    let status: Int
    let headers: [(String, String)]

    init(response: HTTPClientResponse) {
        self.iterator = response.body.makeAsyncIterator()
        self.status = Int(response.status.code)
        self.headers = response.headers.map { ($0.name, $0.value) }
    }

    static func open(_ url: String, headers: [(String, String)] = []) async throws -> SSEReader {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "text/event-stream")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await testHTTPClient.execute(request, timeout: .seconds(60))
        return SSEReader(response: response)
    }

    /// The next event (a block ending in a blank line), or nil when the stream ends.
    func next() async throws -> ServerSentEvent? {
        while true {
            if let range = pending.range(of: "\n\n") {
                let block = String(pending[..<range.lowerBound])
                pending = String(pending[range.upperBound...])
                return Self.parse(block)
            }
            guard let chunk = try await iterator.next() else { return nil }
            pending += String(buffer: chunk)
        }
    }

    /// The next event of type `message` (skipping retry and heartbeat blocks).
    func nextMessage() async throws -> ServerSentEvent? {
        while let event = try await next() {
            if event.event == "message" { return event }
        }
        return nil
    }

    static func parse(_ block: String) -> ServerSentEvent {
        var event = ServerSentEvent()
        var data: [String] = []
        for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(":") {
                event.comments.append(String(line.dropFirst()))
                continue
            }
            let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let field = String(parts[0])
            var value = parts.count > 1 ? String(parts[1]) : ""
            if value.hasPrefix(" ") { value.removeFirst() }
            switch field {
            case "id": event.id = value
            case "event": event.event = value
            case "data": data.append(value)
            case "retry": event.retry = Int(value)
            default: break
            }
        }
        if !data.isEmpty { event.data = data.joined(separator: "\n") }
        return event
    }
}

/// Runs `operation`, failing if it takes longer than `limit` (so a hang fails a test instead of stalling CI).
/// The operation runs in an unstructured task: one that ignores cancellation must not hold the test up.
func within<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let outcome = OneShot<T>()
    let work = Task { try await operation() }
    return try await withCheckedThrowingContinuation { continuation in
        outcome.set(continuation)
        Task {
            let result = await work.result
            outcome.take()?.resume(with: result)
        }
        Task {
            try? await Task.sleep(for: limit)
            if let continuation = outcome.take() {
                work.cancel()
                continuation.resume(throwing: TimeoutError(limit: limit))
            }
        }
    }
}

/// A continuation resumed by whichever comes first.
final class OneShot<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

    func set(_ value: CheckedContinuation<T, any Error>) { continuation.withLock { $0 = value } }

    func take() -> CheckedContinuation<T, any Error>? { continuation.withLock { $0.take() } }
}

struct TimeoutError: Error, CustomStringConvertible {
    var limit: Duration
    var description: String { "operation did not finish within \(limit)" }
}

/// Path to the package root, for reading examples and ../shared.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
