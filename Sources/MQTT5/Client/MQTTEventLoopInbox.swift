import NIOConcurrencyHelpers

/// Work handed from any thread to the client's event loop in batches: callers append under a lock, and only the
/// append that finds the inbox empty has to schedule the event loop, which then takes everything that arrived in
/// the meantime at once. A burst of publishes (or of messages taken from subscriptions) thus costs one event-loop
/// hop, and in the driver one write and one flush, instead of one of each per item.
final class MQTTEventLoopInbox<Element: Sendable>: Sendable {
    private let items = NIOLockedValueBox<[Element]>([])

    /// Appends `item`; true when the inbox was empty, so the caller must schedule `take` on the event loop.
    func append(_ item: Element) -> Bool {
        items.withLockedValue { items in
            items.append(item)
            return items.count == 1
        }
    }

    /// Appends `item` unless `refuse` (decided under the lock) returns true; nil when refused, else whether the
    /// inbox was empty.
    func append(_ item: Element, unless refuse: () -> Bool) -> Bool? {
        items.withLockedValue { items in
            if refuse() { return nil }
            items.append(item)
            return items.count == 1
        }
    }

    /// Runs `body` under the lock.
    func withLockedItems<Result>(_ body: (inout [Element]) -> Result) -> Result {
        items.withLockedValue(body)
    }

    /// Moves everything queued into `batch` (which must be empty; its capacity is reused).
    func take(into batch: inout [Element]) {
        items.withLockedValue { items in swap(&items, &batch) }
    }
}
