import Logging
import MQTT5
import SluiceCore
import Synchronization

/// One connection of the endpoint to the broker: an ``MQTT5Client`` running in a task of its own, and what is
/// known of its link (up, down since when, after how many failed attempts), so that callers can fail at once
/// while the broker is away instead of waiting on a client that keeps reconnecting.
///
/// A link with an ``OutageLimit`` (a subscription's) gives up on its own: once it has been down longer than the
/// limit's grace, or has failed more reconnections than it allows, it records the outage and stops its client,
/// which ends the client's subscriptions and so wakes their readers.
final class MQTT5Link: Sendable {
    struct OutageLimit: Sendable {
        var grace: Duration
        var failedAttempts: Int
    }

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
        /// Set when the link gave up after an outage longer than its limit.
        var outage: MQTT5ClientError?
    }

    let client: MQTT5Client
    let outageLimit: OutageLimit?
    private let status = Mutex(Status())
    private let tasks = Mutex<(run: Task<Void, Never>?, events: Task<Void, Never>?)>((nil, nil))

    init(configuration: MQTT5ClientConfiguration, outageLimit: OutageLimit? = nil, logger: Logger) {
        client = MQTT5Client(configuration: configuration, logger: logger)
        self.outageLimit = outageLimit
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
                let wentDown = self.status.withLock { status -> ContinuousClock.Instant? in
                    status.decided = true
                    switch event {
                    case .connected:
                        status.connected = true
                        status.downSince = nil
                        status.failedAttempts = 0
                        status.lastError = nil
                        return nil
                    case .disconnected(let error):
                        let wasUp = status.connected
                        status.connected = false
                        status.downSince = status.downSince ?? .now
                        status.lastError = error
                        return wasUp ? status.downSince : nil
                    case .connectionAttemptFailed(let error):
                        status.connected = false
                        status.downSince = status.downSince ?? .now
                        status.failedAttempts += 1
                        status.lastError = error
                        return nil
                    }
                }
                guard let limit = self.outageLimit else { continue }
                if let wentDown {
                    // Unstructured: a timer for this outage, while the watch goes on reading events; it checks
                    // that the link is still down from the same moment when it fires.
                    Task {
                        try? await Task.sleep(for: limit.grace)
                        self.giveUpIf { $0.downSince == wentDown }
                    }
                }
                self.giveUpIf { $0.failedAttempts > limit.failedAttempts }
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

    /// Records the outage and stops the client when `condition` holds of a link that is down and running.
    private func giveUpIf(_ condition: (Status) -> Bool) {
        let outage = status.withLock { status -> MQTT5ClientError? in
            guard !status.connected, !status.finished, status.outage == nil, condition(status) else { return nil }
            status.outage = status.lastError ?? MQTT5ClientError(.connectionFailed, "the broker went away")
            return status.outage
        }
        guard outage != nil else { return }
        let client = self.client
        // Unstructured: called from the event watch, which stop() would wait for.
        Task { try? await client.disconnect() }
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
