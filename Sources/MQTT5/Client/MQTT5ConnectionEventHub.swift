import NIOConcurrencyHelpers

/// The observers of a client's connection events, behind a lock so that a caller on any thread registers at once:
/// an observer sees every event after its registration, starting with `connected` when the client is connected
/// then. (Registering through the event loop instead would let events slip by between the call and the
/// registration.)
final class MQTT5ConnectionEventHub: Sendable {
    private struct State {
        var observers: [UInt64: AsyncStream<MQTT5ConnectionEvent>.Continuation] = [:]
        var nextID: UInt64 = 0
        var connection: MQTT5ConnectionInfo?
        var isFinished = false
    }

    private let state = NIOLockedValueBox(State())

    /// Registers `continuation`; returns its id, or nil when the client has stopped (the continuation is finished).
    func register(_ continuation: AsyncStream<MQTT5ConnectionEvent>.Continuation) -> UInt64? {
        let id: UInt64? = state.withLockedValue { state in
            guard !state.isFinished else { return nil }
            state.nextID += 1
            state.observers[state.nextID] = continuation
            // Yielded under the lock, so that no later event can overtake it.
            if let connection = state.connection { continuation.yield(.connected(connection)) }
            return state.nextID
        }
        if id == nil { continuation.finish() }
        return id
    }

    func unregister(_ id: UInt64) {
        _ = state.withLockedValue { $0.observers.removeValue(forKey: id) }
    }

    /// Hands `event` to every observer, in the order events happen (the driver calls this from its event loop).
    func publish(_ event: MQTT5ConnectionEvent) {
        state.withLockedValue { state in
            switch event {
            case .connected(let info): state.connection = info
            case .disconnected: state.connection = nil
            case .connectionAttemptFailed: break
            }
            for observer in state.observers.values { observer.yield(event) }
        }
    }

    /// The client has stopped: every sequence ends, and later registrations end at once.
    func finish() {
        let observers = state.withLockedValue { state in
            state.isFinished = true
            state.connection = nil
            defer { state.observers = [:] }
            return Array(state.observers.values)
        }
        for observer in observers { observer.finish() }
    }
}
