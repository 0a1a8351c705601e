import Foundation
import Logging
import MQTT5
import MQTT5TestSupport
import NIOCore

struct TestTimeout: Error, CustomStringConvertible {
    let description: String
}

/// A logger for the clients under test: silent, unless `SLUICE_TEST_LOG=debug` asks to see what they do.
func testLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel =
        ProcessInfo.processInfo.environment["SLUICE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    return logger
}

/// A configuration for `port` on loopback with quick reconnections, so that tests of lost connections are short.
func testConfiguration(
    port: Int,
    id: String,
    configure: (inout MQTT5ClientConfiguration) -> Void = { _ in }
) -> MQTT5ClientConfiguration {
    var configuration = MQTT5ClientConfiguration(host: "127.0.0.1", port: port, clientIdentifier: id)
    configuration.keepAlive = .seconds(30)
    configuration.connectTimeout = .seconds(5)
    configuration.reconnectBackoff.initialDelay = .milliseconds(50)
    configuration.reconnectBackoff.maximumDelay = .milliseconds(500)
    configuration.shutdownDrainTimeout = .seconds(2)
    configure(&configuration)
    return configuration
}

func makeClient(
    _ broker: MosquittoBroker,
    id: String,
    configure: (inout MQTT5ClientConfiguration) -> Void = { _ in }
) -> MQTT5Client {
    MQTT5Client(
        configuration: testConfiguration(port: broker.port, id: id, configure: configure), logger: testLogger(id))
}

/// Runs the clients while `body` runs: starts their `run()`, waits until each is connected, then disconnects them
/// and waits for `run()` to return (rethrowing what it threw).
func whileRunning<Result: Sendable>(
    _ clients: [MQTT5Client],
    _ body: () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for client in clients {
            group.addTask { try await client.run() }
        }
        do {
            for client in clients {
                _ = try await withTimeout(.seconds(20), "a connection") { try await client.waitUntilConnected() }
            }
            let result = try await body()
            for client in clients { try? await client.disconnect() }
            try await group.waitForAll()
            return result
        } catch {
            for client in clients { try? await client.disconnect() }
            group.cancelAll()
            throw error
        }
    }
}

/// Runs `body`, failing with `TestTimeout` instead of waiting longer than `timeout` (a guard against hangs, not a
/// measure of speed).
func withTimeout<T: Sendable>(
    _ timeout: Duration = .seconds(20),
    _ what: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let first else { throw TestTimeout(description: "no \(what) within \(timeout)") }
        return first
    }
}

/// Reads `count` messages from `subscription`.
func collect(
    _ count: Int,
    from subscription: MQTT5Subscription,
    timeout: Duration = .seconds(20)
) async throws -> [MQTTMessage] {
    try await withTimeout(timeout, "\(count) messages") {
        var messages: [MQTTMessage] = []
        for try await message in subscription {
            messages.append(message)
            if messages.count == count { break }
        }
        guard messages.count == count else {
            throw TestTimeout(description: "the subscription ended after \(messages.count) of \(count) messages")
        }
        return messages
    }
}

/// Waits until `condition` holds, checking every 20 ms, at most `timeout`.
func eventually(
    _ what: String,
    timeout: Duration = .seconds(20),
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TestTimeout(description: "\(what) did not happen within \(timeout)")
}

/// The next event of `events` that `predicate` accepts.
func nextEvent(
    _ events: AsyncStream<MQTT5ConnectionEvent>,
    timeout: Duration = .seconds(20),
    where predicate: @escaping @Sendable (MQTT5ConnectionEvent) -> Bool
) async throws -> MQTT5ConnectionEvent {
    try await withTimeout(timeout, "connection event") {
        for await event in events where predicate(event) {
            return event
        }
        throw TestTimeout(description: "the connection events ended")
    }
}

/// Waits for the client to connect again after losing its connection. A failed attempt counts as evidence of the
/// loss too: the events stream keeps only the newest events, and a long outage can push the `disconnected` event
/// out before the test reads it.
func reconnection(
    _ events: AsyncStream<MQTT5ConnectionEvent>,
    timeout: Duration = .seconds(20)
) async throws -> MQTT5ConnectionInfo {
    try await withTimeout(timeout, "reconnection") {
        var sawLoss = false
        for await event in events {
            switch event {
            case .disconnected, .connectionAttemptFailed: sawLoss = true
            case .connected(let info): if sawLoss { return info }
            }
        }
        throw TestTimeout(description: "the connection events ended")
    }
}

extension MQTTMessage {
    var text: String { String(buffer: payload) }
}

/// Runs `mosquitto_pub` or `mosquitto_sub` to completion (at most `timeout`) and returns its standard output.
func runMosquittoTool(_ name: String, _ arguments: [String], timeout: Duration = .seconds(20)) async throws -> String {
    let tool = try MosquittoTool.start(name, arguments)
    return try await tool.waitForOutput(timeout: timeout)
}

/// `mosquitto_pub` or `mosquitto_sub` in the background.
final class MosquittoTool: Sendable {
    let process: ChildProcess
    let directory: URL
    var output: URL { directory.appendingPathComponent("stdout") }
    var log: URL { directory.appendingPathComponent("stderr") }

    private init(process: ChildProcess, directory: URL) {
        self.process = process
        self.directory = directory
    }

    static func start(_ name: String, _ arguments: [String]) throws -> MosquittoTool {
        guard let executable = MosquittoEnvironment.clientTool(name) else {
            throw HarnessError("\(name) is not installed: install the Debian package mosquitto-clients")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let process = try ChildProcess.launch(
            executable: executable, arguments: arguments, log: directory.appendingPathComponent("stderr"),
            output: directory.appendingPathComponent("stdout"))
        return MosquittoTool(process: process, directory: directory)
    }

    /// Stops it and removes its folder.
    func cancel() async {
        await process.stop(graceful: false)
        try? FileManager.default.removeItem(at: directory)
    }

    /// What it printed so far.
    var currentOutput: String { ChildProcess.text(of: output, from: 0) }

    func waitForOutput(timeout: Duration) async throws -> String {
        await process.waitForExit(timeout: timeout)
        defer { try? FileManager.default.removeItem(at: directory) }
        guard !process.isRunning else {
            await process.stop(graceful: false)
            throw TestTimeout(
                description:
                    "the tool did not finish within \(timeout); stderr:\n\(ChildProcess.text(of: log, from: 0))")
        }
        guard process.exitStatus == 0 else {
            throw HarnessError("the tool exited with \(process.exitStatus): \(ChildProcess.text(of: log, from: 0))")
        }
        return ChildProcess.text(of: output, from: 0)
    }
}
