import Logging
import MQTT5
import SluiceCore
import Synchronization

/// One connection of the endpoint to the broker: an ``MQTT5Client`` running in a task of its own, and what is
/// known of its link (up, down since when, after how many failed attempts), so that callers can fail at once
/// while the broker is away instead of waiting on a client that keeps reconnecting.
final class MQTT5Link: Sendable {
    struct Status: Sendable {
        /// Whether a connection attempt has had an outcome yet.
        var decided = false
        var connected = false
        /// When the link went down (nil while up or before the first outcome).
        var downSince: ContinuousClock.Instant?
        /// Failed connection attempts since the link was last up.
        var failedAttempts = 0
        var lastError: MQTT5ClientError?
        /// Set once the client has stopped; `run()`'s failure when it had one.
        var finished = false
        var finalError: MQTT5ClientError?
    }

    let client: MQTT5Client
    private let status = Mutex(Status())
    private let tasks = Mutex<(run: Task<Void, Never>?, events: Task<Void, Never>?)>((nil, nil))

    init(configuration: MQTT5ClientConfiguration, logger: Logger) {
        client = MQTT5Client(configuration: configuration, logger: logger)
    }

    var current: Status { status.withLock { $0 } }

    /// Starts the client and the watch over its connection events.
    func start() {
        let events = client.connectionEvents()
        let client = self.client
        // Unstructured, both: the link serves requests that come and go, and lives until stop() ends the client,
        // which ends the event sequence too.
        let watch = Task {
            for await event in events {
                self.status.withLock { status in
                    status.decided = true
                    switch event {
                    case .connected:
                        status.connected = true
                        status.downSince = nil
                        status.failedAttempts = 0
                        status.lastError = nil
                    case .disconnected(let error):
                        status.connected = false
                        status.downSince = status.downSince ?? .now
                        status.lastError = error
                    case .connectionAttemptFailed(let error):
                        status.connected = false
                        status.downSince = status.downSince ?? .now
                        status.failedAttempts += 1
                        status.lastError = error
                    }
                }
            }
        }
        let run = Task {
            var failure: MQTT5ClientError?
            do {
                try await client.run()
            } catch {
                failure = (error as? MQTT5ClientError) ?? MQTT5ClientError(.connectionFailed, "\(error)")
                client.logger.debug("MQTT connection stopped", metadata: ["error": "\(error)"])
            }
            self.status.withLock {
                $0.finished = true
                $0.connected = false
                $0.finalError = failure
            }
        }
        tasks.withLock { $0 = (run, watch) }
    }

    /// Returns once the client is connected; throws at once when the link is known to be down (or has stopped),
    /// and when no connection attempt has had an outcome within `timeout`.
    func waitUntilUp(timeout: Duration) async throws(GatewayError) {
        let deadline = ContinuousClock.now + timeout
        while true {
            let status = current
            if status.connected { return }
            if status.finished {
                throw .mqtt5(status.finalError ?? MQTT5ClientError(.shutDown, "the connection to the broker has ended"))
            }
            if status.decided, let error = status.lastError { throw .mqtt5(error) }
            if ContinuousClock.now >= deadline {
                throw .mqtt5Unavailable(MQTT5ClientError(.timedOut, "no connection to the broker within \(timeout)"))
            }
            do {
                try await Task.sleep(for: .milliseconds(10))
            } catch {
                throw .mqtt5Unavailable(MQTT5ClientError(.cancelled, "the request ended"))
            }
        }
    }

    /// Disconnects and waits for the client to stop. `endSession` sets the Session Expiry to 0 in the DISCONNECT,
    /// so the broker drops the session and its subscriptions at once.
    func stop(endSession: Bool) async {
        var properties = MQTTProperties()
        if endSession { properties.sessionExpiryInterval = 0 }
        try? await client.disconnect(properties: properties)
        let (run, watch) = tasks.withLock { $0 }
        await run?.value
        await watch?.value
    }
}

/// A value behind a lock, shared by reference.
final class LockedBox<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result {
        mutex.withLock { body(&$0) }
    }
}

/// Runs `operation`, returning nil when it has not finished within `limit` (it is cancelled then).
func withTimeLimit<T: Sendable>(
    _ limit: Duration, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next() ?? nil
    }
}
