import DequeModule
public import SluiceCore
import Synchronization

/// How much of a topic the embedded log keeps. The oldest messages go first when either bound is passed.
public struct InMemoryRetention: Sendable, Hashable {
    /// Default: 10,000 messages.
    public var maxMessages: Int
    /// Default: 64 MiB.
    public var maxBytes: Int

    public init(maxMessages: Int = 10_000, maxBytes: Int = 64 << 20) {
        self.maxMessages = maxMessages
        self.maxBytes = maxBytes
    }
}

/// One topic of the embedded log: an append-only, bounded sequence of messages whose ids are their offsets.
///
/// Readers keep only an offset and pull from the log, so any number of subscribers share one copy of each
/// message, and a slow subscriber costs nothing but its position: when retention removes messages it has not
/// read, it continues from the oldest message still kept.
public final class InMemoryTopic: Sendable {
    public let name: String

    struct State {
        var messages = Deque<Message>()
        /// Offset of `messages.first`.
        var firstOffset: Int64 = 0
        var bytes = 0
        var retention: InMemoryRetention
        var waiters: [UInt64: Waiter] = [:]
        /// Readers on an event loop, told (once) when a message is appended.
        var watchers: [UInt64: @Sendable () -> Void] = [:]
        /// Waits ended before their continuation was stored (cancelled, woken or closed early).
        var endedEarly: [UInt64: WaitOutcome] = [:]
        var nextWaiterID: UInt64 = 0

        var endOffset: Int64 { firstOffset + Int64(messages.count) }
    }

    /// Why a wait for new messages ended.
    public enum WaitOutcome: Sendable {
        case messageAvailable
        case deadlinePassed
        case interrupted
    }

    struct Waiter {
        var continuation: CheckedContinuation<WaitOutcome, any Error>
        var deadline: ContinuousClock.Instant?
    }

    private let state: Mutex<State>

    init(name: String, retention: InMemoryRetention) {
        self.name = name
        self.state = Mutex(State(retention: retention))
    }

    /// Offsets of the oldest kept message and of the next message to be appended.
    public var bounds: (first: Int64, end: Int64) {
        state.withLock { ($0.firstOffset, $0.endOffset) }
    }

    func updateRetention(_ retention: InMemoryRetention) {
        state.withLock { state in
            state.retention = retention
            Self.trim(&state)
        }
    }

    /// Appends a message and wakes every waiting reader. Returns the message as stored (id = offset).
    @discardableResult
    public func append(_ message: Message, timestamp: Int64) -> Message {
        var stored = message
        stored.timestamp = timestamp
        appendAndWake { state in
            stored.id = String(state.endOffset)
            state.messages.append(stored)
            state.bytes += stored.approximateSize
        }
        return stored
    }

    /// Appends messages in order, keeping their ids (a broker's cursor, say; the offsets only order the readers),
    /// and wakes every waiting reader once.
    func append(keepingIDs messages: [Message]) {
        appendAndWake { state in
            for message in messages {
                state.messages.append(message)
                state.bytes += message.approximateSize
            }
        }
    }

    /// Runs `add` under the lock, trims to the retention, then wakes the waiting readers and watchers.
    private func appendAndWake(_ add: (inout State) -> Void) {
        var watchers: [@Sendable () -> Void] = []
        let waiters: [Waiter] = state.withLock { state in
            add(&state)
            Self.trim(&state)
            if !state.watchers.isEmpty {
                watchers = Array(state.watchers.values)
                state.watchers.removeAll(keepingCapacity: true)
            }
            if state.waiters.isEmpty { return [] }
            let woken = Array(state.waiters.values)
            state.waiters.removeAll(keepingCapacity: true)
            return woken
        }
        for waiter in waiters { waiter.continuation.resume(returning: .messageAvailable) }
        for watcher in watchers { watcher() }
    }

    private static func trim(_ state: inout State) {
        // Keep at least the newest message even when it alone passes the byte bound.
        while state.messages.count > 1,
            state.messages.count > state.retention.maxMessages || state.bytes > state.retention.maxBytes
        {
            let removed = state.messages.removeFirst()
            state.bytes -= removed.approximateSize
            state.firstOffset += 1
        }
    }

    /// Up to `maxCount` messages from `offset` on. Reading below the oldest kept offset starts at the oldest.
    /// Returns the messages and the offset to read next.
    public func read(from offset: Int64, maxCount: Int) -> (messages: [Message], next: Int64) {
        state.withLock { state in
            let start = max(offset, state.firstOffset)
            guard start < state.endOffset, maxCount > 0 else { return ([], start) }
            let count = min(Int(state.endOffset - start), maxCount)
            let first = Int(start - state.firstOffset)
            return (Array(state.messages[first..<first + count]), start + Int64(count))
        }
    }

    /// Allocates the id a reader passes to ``waitForMessage(at:until:id:)`` and ``interruptWait(id:)``.
    public func makeWaitID() -> UInt64 {
        state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
    }

    /// Returns once a message at or after `offset` exists, the deadline has passed (noticed by
    /// ``expireWaits(now:)``), or ``interruptWait(id:)`` is called. Throws `CancellationError` if the task is
    /// cancelled.
    public func waitForMessage(
        at offset: Int64, until deadline: ContinuousClock.Instant?, id: UInt64
    ) async throws -> WaitOutcome {
        defer {
            // A cancellation that raced with a normal end of the wait leaves its mark behind; clear it so that
            // the reader's next wait is not mistaken for a cancelled one. (An interruption mark stays.)
            state.withLock { state in
                if case .deadlinePassed? = state.endedEarly[id] { state.endedEarly.removeValue(forKey: id) }
            }
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<WaitOutcome, any Error>) in
                enum Decision { case wait, resume(WaitOutcome), cancelled }
                let decision = state.withLock { state -> Decision in
                    if let early = state.endedEarly.removeValue(forKey: id) {
                        return early == .interrupted ? .resume(.interrupted) : .cancelled
                    }
                    if state.endOffset > offset { return .resume(.messageAvailable) }
                    if let deadline, deadline <= .now { return .resume(.deadlinePassed) }
                    state.waiters[id] = Waiter(continuation: continuation, deadline: deadline)
                    return .wait
                }
                switch decision {
                case .wait: break
                case .resume(let outcome): continuation.resume(returning: outcome)
                case .cancelled: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            // `.deadlinePassed` marks a cancellation that came before the wait was stored.
            end(id: id, early: .deadlinePassed)?.resume(throwing: CancellationError())
        }
    }

    /// Ends the wait `id` (now, or as soon as it starts) with `.interrupted`.
    public func interruptWait(id: UInt64) {
        end(id: id, early: .interrupted)?.resume(returning: .interrupted)
    }

    private func end(id: UInt64, early: WaitOutcome) -> CheckedContinuation<WaitOutcome, any Error>? {
        state.withLock { state in
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter.continuation }
            state.endedEarly[id] = early
            return nil
        }
    }

    /// Forgets what `interruptWait` or a cancellation left for a wait that never started.
    public func forgetWait(id: UInt64) {
        state.withLock { _ = $0.endedEarly.removeValue(forKey: id) }
    }

    /// Ends the waits whose deadline is at or before `now`.
    public func expireWaits(now: ContinuousClock.Instant) {
        let expired = state.withLock { state -> [Waiter] in
            var expired: [Waiter] = []
            for (id, waiter) in state.waiters {
                if let deadline = waiter.deadline, deadline <= now {
                    expired.append(waiter)
                    state.waiters.removeValue(forKey: id)
                }
            }
            return expired
        }
        for waiter in expired { waiter.continuation.resume(returning: .deadlinePassed) }
    }

    /// Calls `callback` once, when a message at or after `offset` is appended, unless one is already there:
    /// then it returns false and calls nothing. For readers that are not tasks (an event-loop stream).
    public func watch(from offset: Int64, id: UInt64, _ callback: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state in
            if state.endOffset > offset { return false }
            state.watchers[id] = callback
            return true
        }
    }

    /// Calls every pending watch now, whether or not a message came: the topic's writer stopped (a shared tail's
    /// broker reader failed), and its event-loop readers look and find out.
    func wakeWatchers() {
        let watchers = state.withLock { state -> [@Sendable () -> Void] in
            defer { state.watchers.removeAll() }
            return Array(state.watchers.values)
        }
        for watcher in watchers { watcher() }
    }

    /// Forgets the watch `id`, if it is still pending.
    public func unwatch(id: UInt64) {
        _ = state.withLock { $0.watchers.removeValue(forKey: id) }
    }

    /// Number of readers currently waiting for new messages.
    public var waitingReaders: Int { state.withLock { $0.waiters.count + $0.watchers.count } }
}
