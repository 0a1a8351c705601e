public import Foundation
public import Logging
public import ServiceLifecycle

/// Keeps the events table from growing without end: every `interval` it deletes the events older than
/// `retention` (the newest always stays). A gateway that was away longer than `retention` finds its cursor behind
/// the oldest event and loads everything again, so retention trades table size against such reloads only.
///
/// Runs where changes are made (the management API's process); several processes pruning one PostgreSQL store
/// is harmless, as each deletion is one transaction in the store's write order.
public struct EventPruner: Service {
    let store: any ManagementStore
    let retention: Duration
    let interval: Duration
    let now: @Sendable () -> Date
    let logger: Logger

    /// - Parameters:
    ///   - retention: how long an event is kept. Default: 24 hours.
    ///   - interval: how often old events are deleted. Default: 10 minutes.
    public init(
        store: any ManagementStore, retention: Duration = .seconds(86_400), interval: Duration = .seconds(600),
        now: @escaping @Sendable () -> Date = { Date() }, logger: Logger
    ) {
        self.store = store
        self.retention = retention
        self.interval = interval
        self.now = now
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.pruneOnce()
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    /// Deletes the events older than the retention once; a store that cannot be reached is tried again at the
    /// next interval. Returns how many events went (0 after a failure).
    @discardableResult
    public func pruneOnce() async -> Int {
        let cutoff = now().addingTimeInterval(-retention.timeInterval)
        do {
            let deleted = try await store.pruneEvents(before: cutoff)
            if deleted > 0 {
                logger.debug("change events pruned", metadata: ["deleted": "\(deleted)", "before": "\(cutoff)"])
            }
            return deleted
        } catch {
            if !Task.isCancelled {
                logger.warning("change events not pruned; trying again later", metadata: ["error": "\(error)"])
            }
            return 0
        }
    }
}
