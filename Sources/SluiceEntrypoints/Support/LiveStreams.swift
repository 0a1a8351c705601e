import Synchronization

/// Why the gateway ends a stream it holds open.
public enum StreamEnding: Sendable {
    /// The gateway is shutting down: SSE clients get `event: goaway`, WebSockets close with 1001.
    case draining
    /// The API was undeployed.
    case apiRemoved
}

/// The SSE and WebSocket connections open on one deployment (or the whole gateway), each with a way to end it.
///
/// A stream registers an `end` action when it opens and deregisters when it closes; `endAll` asks every stream
/// still open to finish, which each does on its own task (writing its goodbye first).
public final class LiveStreams: Sendable {
    private struct State {
        var nextID: UInt64 = 0
        var enders: [UInt64: @Sendable (StreamEnding) -> Void] = [:]
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

    /// Registers a stream; returns nil when the stream must not open (the limit is reached, or draining).
    public func register(end: @escaping @Sendable (StreamEnding) -> Void) -> StreamRegistration? {
        if let counter, !counter.acquire() { return nil }
        let parentRegistration: StreamRegistration?
        if let parent {
            guard let registration = parent.register(end: end) else {
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
            return state.nextID
        }
        guard let id else {
            parentRegistration?.cancel()
            counter?.release()
            return nil
        }
        return StreamRegistration { [weak self] in
            self?.state.withLock { _ = $0.enders.removeValue(forKey: id) }
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

    public var count: Int { state.withLock { $0.enders.count } }
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
