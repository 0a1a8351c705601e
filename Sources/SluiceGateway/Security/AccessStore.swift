import SluiceCore
import Synchronization

/// The access data in force for every API, swapped whole by the definition watcher when an access file changes:
/// a request sees the old data or the new, never half of each.
public final class AccessStore: Sendable {
    private let snapshot = Mutex(AccessSnapshot.empty)

    public init() {}

    public var current: AccessSnapshot { snapshot.withLock { $0 } }

    func replace(with data: AccessData) {
        let new = AccessSnapshot(data)
        snapshot.withLock { $0 = new }
    }
}
