public import Foundation
public import SluiceCore
import Synchronization

/// Why the gateway ends a stream it holds open.
public enum StreamEnding: Sendable {
    /// The gateway is shutting down: SSE clients get `event: goaway`, WebSockets close with 1001.
    case draining
    /// The API was undeployed.
    case apiRemoved
    /// The credential the stream opened with no longer holds (a revoked or expired API key, a subscription closed
    /// or past its end): SSE clients get an `event: error` naming the error's key, WebSockets close with 1008.
    case accessEnded(GatewayError)

    /// The text a client is given: `KEY: message`, as WebSocket close reasons and SSE error events carry it.
    public var reason: String {
        switch self {
        case .draining, .apiRemoved: "Stopping, please reconnect"
        case .accessEnded(let error): "\(error.key): \(error.message)"
        }
    }
}

/// What let a stream open, checked again while it runs: `check` answers the error that now refuses it, or nil
/// while it still holds.
public struct StreamGrant: Sendable {
    public var check: @Sendable (Date) -> GatewayError?

    public init(check: @escaping @Sendable (Date) -> GatewayError?) {
        self.check = check
    }
}

/// The SSE and WebSocket connections open on one deployment (or the whole gateway), each with a way to end it.
///
/// A stream registers an `end` action when it opens and deregisters when it closes; `endAll` asks every stream
/// still open to finish, which each does on its own task (writing its goodbye first).
public final class LiveStreams: Sendable {
    private struct State {
        var nextID: UInt64 = 0
        var enders: [UInt64: @Sendable (StreamEnding) -> Void] = [:]
        /// The grants of the streams that opened with a credential.
        var grants: [UInt64: StreamGrant] = [:]
        var ending: StreamEnding?
    }

    private let state = Mutex(State())
    private let parent: LiveStreams?
    private let counter: ConnectionCounter?

    /// A registry for one deployment, counted against the gateway's `counter`, ended also by `parent`.
    public init(parent: LiveStreams? = nil, counter: ConnectionCounter? = nil) {
        self.parent = parent
        self.counter = counter
    }

    /// Registers a stream; returns nil when the stream must not open (the limit is reached, or draining). A stream
    /// with a `grant` is ended with ``StreamEnding/accessEnded(_:)`` by the first ``recheck(now:)`` its grant fails.
    public func register(
        grant: StreamGrant? = nil, end: @escaping @Sendable (StreamEnding) -> Void
    ) -> StreamRegistration? {
        if let counter, !counter.acquire() { return nil }
        let parentRegistration: StreamRegistration?
        if let parent {
            guard let registration = parent.register(grant: grant, end: end) else {
                counter?.release()
                return nil
            }
            parentRegistration = registration
        } else {
            parentRegistration = nil
        }
        let id: UInt64? = state.withLock { state in
            if state.ending != nil { return nil }
            state.nextID += 1
            state.enders[state.nextID] = end
            if let grant { state.grants[state.nextID] = grant }
            return state.nextID
        }
        guard let id else {
            parentRegistration?.cancel()
            counter?.release()
            return nil
        }
        return StreamRegistration { [weak self] in
            self?.state.withLock { state in
                state.enders.removeValue(forKey: id)
                state.grants.removeValue(forKey: id)
            }
            parentRegistration?.cancel()
            self?.counter?.release()
        }
    }

    /// Ends every registered stream and refuses new ones.
    public func endAll(_ ending: StreamEnding) {
        let enders = state.withLock { state -> [@Sendable (StreamEnding) -> Void] in
            state.ending = ending
            return Array(state.enders.values)
        }
        for end in enders { end(ending) }
    }

    /// Checks every stream's grant (access data changed, or time passed) and ends those it no longer lets in. Each
    /// is ended once: its grant is dropped as it is ended.
    public func recheck(now: Date = Date()) {
        let grants = state.withLock { $0.grants }
        guard !grants.isEmpty else { return }
        var refused: [(UInt64, GatewayError)] = []
        for (id, grant) in grants {
            if let error = grant.check(now) { refused.append((id, error)) }
        }
        let enders = state.withLock { state -> [(@Sendable (StreamEnding) -> Void, GatewayError)] in
            refused.compactMap { id, error in
                guard state.grants.removeValue(forKey: id) != nil, let end = state.enders[id] else { return nil }
                return (end, error)
            }
        }
        for (end, error) in enders { end(.accessEnded(error)) }
    }

    public var count: Int { state.withLock { $0.enders.count } }

    /// How many open streams carry a grant.
    public var grantedCount: Int { state.withLock { $0.grants.count } }
}

/// A stream's place in ``LiveStreams``; `cancel()` when the stream closes (idempotent).
public final class StreamRegistration: Sendable {
    private let onCancel: Mutex<(@Sendable () -> Void)?>

    init(onCancel: @escaping @Sendable () -> Void) {
        self.onCancel = Mutex(onCancel)
    }

    public func cancel() {
        let action = onCancel.withLock { action -> (@Sendable () -> Void)? in
            defer { action = nil }
            return action
        }
        action?()
    }

    deinit { cancel() }
}

/// Counts streaming connections gateway-wide against a maximum.
public final class ConnectionCounter: Sendable {
    private let current = Atomic<Int>(0)
    public let maximum: Int

    public init(maximum: Int) { self.maximum = maximum }

    public func acquire() -> Bool {
        let new = current.add(1, ordering: .relaxed).newValue
        if new > maximum {
            current.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    public func release() { current.subtract(1, ordering: .relaxed) }

    public var value: Int { current.load(ordering: .relaxed) }
}
