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
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        var cancelledWaiters = Set<UInt64>()
        var nextWaiterID: UInt64 = 0

        var endOffset: Int64 { firstOffset + Int64(messages.count) }
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
        let waiters: [CheckedContinuation<Void, any Error>] = state.withLock { state in
            let offset = state.endOffset
            stored.id = String(offset)
            stored.timestamp = timestamp
            state.messages.append(stored)
            state.bytes += stored.approximateSize
            Self.trim(&state)
            let woken = Array(state.waiters.values)
            state.waiters.removeAll(keepingCapacity: true)
            return woken
        }
        for waiter in waiters { waiter.resume() }
        return stored
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

    /// Returns once a message at or after `offset` exists. Throws `CancellationError` if the task is cancelled.
    public func waitForMessage(at offset: Int64) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Outcome { case wait, ready, cancelled }
                let outcome = state.withLock { state -> Outcome in
                    if state.cancelledWaiters.remove(id) != nil { return .cancelled }
                    if state.endOffset > offset { return .ready }
                    state.waiters[id] = continuation
                    return .wait
                }
                switch outcome {
                case .wait: break
                case .ready: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
                state.cancelledWaiters.insert(id)
                return nil
            }
            waiter?.resume(throwing: CancellationError())
        }
        // A cancellation that raced with a normal wake-up leaves its mark behind; clear it.
        state.withLock { _ = $0.cancelledWaiters.remove(id) }
    }

    /// Number of readers currently waiting for new messages.
    public var waitingReaders: Int { state.withLock { $0.waiters.count } }
}
