import Foundation
public import Logging
import PostgresNIO
public import ServiceLifecycle

/// The management store in PostgreSQL: for several gateway nodes, which all read it, LISTEN for its changes and
/// share rate-limit counters in it (``rateLimitStore``).
///
/// It is a `Service`: its connection pool works while ``run()`` runs (run it in the same `ServiceGroup`, first, so
/// that it stops last). Operations wait for it, and fail as unavailable after the operation timeout.
public final class PostgresManagementStore: SQLBackedStore, Service {
    let core: SQLStoreCore
    let backend: PostgresBackend

    public init(configuration: PostgresStoreConfiguration, logger: Logger) throws {
        do {
            self.backend = try PostgresBackend(configuration: configuration, logger: logger)
        } catch {
            throw StoreError(code: .invalid, message: "cannot set up the PostgreSQL client: \(error)")
        }
        self.core = SQLStoreCore(backend: backend)
    }

    public var configuration: PostgresStoreConfiguration { backend.configuration }

    /// Runs the connection pool until graceful shutdown or cancellation, and clears ended rate-limit windows once a
    /// minute.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.backend.client.run() }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(60))
                        let now = Int64(Date().timeIntervalSince1970 * 1000)
                        _ = try? await self.rateLimitStore.removeExpired(before: now)
                    }
                }
            }
        }
    }

    /// Rate-limit, quota and spike-arrest counters in this database, shared by every node that uses it.
    public var rateLimitStore: PostgresRateLimitStore { PostgresRateLimitStore(backend: backend) }

    /// Calls `onChange` each time a change commits (PostgreSQL NOTIFY), until the connection fails (it throws) or
    /// the task is cancelled (it returns). The first call says the listener is in place.
    public func listenForChanges(_ onChange: @escaping @Sendable () -> Void) async throws {
        try await backend.client.withConnection { connection in
            try await connection.listen(on: PostgresBackend.channel) { notifications in
                onChange()
                for try await _ in notifications {
                    onChange()
                }
            }
        }
    }
}
