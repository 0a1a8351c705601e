import SluiceEntrypoints
import Synchronization

/// A one-shot signal that may fire before anyone listens: a late listener is called at once.
final class EndSignal: Sendable {
    private struct State {
        var fired: StreamEnding?
        var listener: (@Sendable (StreamEnding) -> Void)?
    }

    private let state = Mutex(State())

    func fire(_ reason: StreamEnding) {
        let listener = state.withLock { state -> (@Sendable (StreamEnding) -> Void)? in
            guard state.fired == nil else { return nil }
            state.fired = reason
            return state.listener
        }
        listener?(reason)
    }

    func onFire(_ listener: @escaping @Sendable (StreamEnding) -> Void) {
        let fired = state.withLock { state -> StreamEnding? in
            state.listener = listener
            return state.fired
        }
        if let fired { listener(fired) }
    }
}
