import Synchronization

/// A deployment's shared tails by what they read (a topic list, a topic filter): the first stream that needs one
/// starts it, the streams that come while it starts wait for the same start, and a tail that stops is forgotten
/// so the next stream starts another.
final class TailRegistry<Key: Hashable & Sendable, Tail: Sendable>: Sendable {
    private struct Slot {
        var id: Int
        var start: Task<Tail, any Error>
    }

    private struct State {
        var slots: [Key: Slot] = [:]
        var nextID = 0
        var closed = false
    }

    private let state = Mutex(State())

    init() {}

    /// The tail for `key`, started with `start` when there is none; `start` gets what the tail calls when it
    /// stops. Nil once the registry is closed.
    func tail(
        _ key: Key, start: @escaping @Sendable (_ onStop: @escaping @Sendable () -> Void) async throws -> Tail
    ) async throws -> Tail? {
        let slot = state.withLock { state -> Slot? in
            if state.closed { return nil }
            if let existing = state.slots[key] { return existing }
            state.nextID += 1
            let id = state.nextID
            let onStop: @Sendable () -> Void = { [weak self] in self?.forget(key, id: id) }
            let slot = Slot(id: id, start: Task { try await start(onStop) })
            state.slots[key] = slot
            return slot
        }
        guard let slot else { return nil }
        do {
            return try await slot.start.value
        } catch {
            forget(key, id: slot.id)
            throw error
        }
    }

    private func forget(_ key: Key, id: Int) {
        state.withLock { state in
            if state.slots[key]?.id == id { state.slots[key] = nil }
        }
    }

    /// Closes the registry and returns the tails it had (those that started), for the owner to stop.
    func close() async -> [Tail] {
        let starts = state.withLock { state in
            state.closed = true
            defer { state.slots = [:] }
            return state.slots.values.map(\.start)
        }
        var tails: [Tail] = []
        for start in starts { if let tail = try? await start.value { tails.append(tail) } }
        return tails
    }
}
