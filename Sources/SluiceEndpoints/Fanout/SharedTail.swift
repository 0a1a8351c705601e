import SluiceCore
import Synchronization

/// What a broker endpoint reads once for many streams: a bounded ring (the embedded log's ``InMemoryTopic``) that
/// one reader of the broker fills and any number of streams read, each keeping only its place. Used by the `kafka`
/// and `mqtt5` endpoints for streams whose own subscription would read exactly what everyone's does (see their
/// docs): a thousand SSE clients then cost the broker one subscription, not a thousand.
///
/// The tail ends when its owner stops it (the broker reader failed: readers get the error at their next read) or
/// when it has had no reader for ``Settings/linger``; then its `onStop` runs once, so the owner closes the broker
/// reader and the next stream starts a new tail.
final class SharedTail: Sendable {
    struct Settings: Sendable {
        /// What the ring keeps; a reader further behind is told so (``Read/behind(first:)``).
        var retention = InMemoryRetention(maxMessages: 10_000, maxBytes: 32 << 20)
        /// How long a tail without readers waits for a new one before it stops.
        var linger = Duration.seconds(30)
        /// Longest wait of a reader between looks at the tail's state.
        var healthCheckInterval = Duration.milliseconds(500)
    }

    private struct State {
        var readers = 0
        /// Changes whenever the reader count changes, so a lingering stop knows a reader came and went.
        var generation = 0
        var failure: GatewayError?
        var stopped = false
        var onStop: (@Sendable () -> Void)?
    }

    let ring: InMemoryTopic
    let settings: Settings
    private let state: Mutex<State>

    init(name: String, settings: Settings = Settings()) {
        self.settings = settings
        self.ring = InMemoryTopic(name: name, retention: settings.retention)
        self.state = Mutex(State())
    }

    /// What runs once when the tail stops; set by the owner before the first reader attaches.
    func whenStopped(_ action: @escaping @Sendable () -> Void) {
        state.withLock { $0.onStop = action }
    }

    /// Appends what the broker reader read, and runs `alongside` under the same lock as the append, so a reader
    /// that attaches sees the ring's end and whatever `alongside` keeps (a position) agree.
    func append(_ messages: [Message], alongside: () -> Void = {}) {
        state.withLock { _ in
            alongside()
            ring.append(keepingIDs: messages)
        }
        ring.expireWaits(now: .now)
    }

    /// For the broker reader when it read nothing: ends the readers' waits whose deadline passed.
    func noteIdle() {
        ring.expireWaits(now: .now)
    }

    /// A new reader's place (the ring's end) and what `extra` gives under the append lock; nil once stopped.
    func attach<Extra>(_ extra: () -> Extra) -> (offset: Int64, extra: Extra)? {
        state.withLock { state in
            guard !state.stopped else { return nil }
            state.readers += 1
            state.generation += 1
            return (ring.bounds.end, extra())
        }
    }

    /// A reader left; the last one starts the linger.
    func detach() {
        let generation = state.withLock { state -> Int? in
            state.readers -= 1
            state.generation += 1
            return state.readers == 0 && !state.stopped ? state.generation : nil
        }
        guard let generation else { return }
        let linger = settings.linger
        // Unstructured: a short timer that outlives the reader that left.
        Task {
            try? await Task.sleep(for: linger)
            let idle = self.state.withLock { $0.readers == 0 && $0.generation == generation && !$0.stopped }
            if idle { self.stop(nil) }
        }
    }

    /// Stops the tail (once): readers see `failure` (or, with none, the end) at their next read.
    func stop(_ failure: GatewayError?) {
        let onStop = state.withLock { state -> (@Sendable () -> Void)? in
            guard !state.stopped else { return nil }
            state.stopped = true
            state.failure = failure
            defer { state.onStop = nil }
            return state.onStop
        }
        // Every reader waits with a deadline: end all the waits now. Event-loop readers watch instead.
        ring.expireWaits(now: .now + .seconds(86_400))
        ring.wakeWatchers()
        onStop?()
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    /// Whether the tail stopped, and with which failure (nil: for want of readers, or the API stopping).
    var stopState: (stopped: Bool, failure: GatewayError?) { state.withLock { ($0.stopped, $0.failure) } }

    enum Read: Sendable {
        /// Messages from the reader's place on; `next` is its new place.
        case messages([Message], next: Int64)
        /// The ring no longer has the reader's place; `first` is the oldest place it has.
        case behind(first: Int64)
        case timedOut
        /// The tail stopped: with the broker's failure, or nil when it was stopped for want of readers.
        case stopped(GatewayError?)
    }

    /// Up to `maxCount` messages from `offset` on, waiting (in steps of the health-check interval) until there are
    /// some, the deadline passes, or the tail stops. `waitID` is the reader's, from `ring.makeWaitID()`.
    func read(
        from offset: Int64, maxCount: Int, until deadline: ContinuousClock.Instant?, waitID: UInt64
    ) async throws -> Read {
        while true {
            let first = ring.bounds.first
            if offset < first { return .behind(first: first) }
            let (messages, next) = ring.read(from: offset, maxCount: maxCount)
            if !messages.isEmpty {
                // The ring may have dropped messages between the look at its bounds and the read.
                if next - Int64(messages.count) != offset { continue }
                return .messages(messages, next: next)
            }
            let (stopped, failure) = state.withLock { ($0.stopped, $0.failure) }
            if stopped { return .stopped(failure) }
            var wake = ContinuousClock.now + settings.healthCheckInterval
            if let deadline {
                if deadline <= .now { return .timedOut }
                wake = min(wake, deadline)
            }
            let outcome = try await ring.waitForMessage(at: offset, until: wake, id: waitID)
            if case .interrupted = outcome { return .stopped(nil) }
        }
    }
}
