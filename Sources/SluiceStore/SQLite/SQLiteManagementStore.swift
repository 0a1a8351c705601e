import Foundation

/// The management store in a SQLite file (`sluice.sqlite` in the data directory): the default, for one gateway
/// node, or several processes on one machine.
public final class SQLiteManagementStore: SQLBackedStore {
    /// The database file's name in the data directory.
    public static let fileName = "sluice.sqlite"

    let core: SQLStoreCore
    let backend: SQLiteBackend
    /// The database file.
    public let path: String

    /// Opens (creating it and the directory when needed) the store in `directory`, and migrates it.
    /// - Parameter busyTimeout: how long a statement waits for another process's lock. Default: 5 s.
    public convenience init(directory: String, busyTimeout: Duration = .seconds(5)) async throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(
                code: .unavailable,
                message: "cannot create the data directory \(directory): \(error.localizedDescription)")
        }
        try await self.init(
            path: (directory as NSString).appendingPathComponent(Self.fileName), busyTimeout: busyTimeout)
    }

    /// Opens (creating it when needed) the store in the file at `path`, and migrates it.
    public convenience init(path: String, busyTimeout: Duration = .seconds(5)) async throws {
        try self.init(path: path, busyTimeout: busyTimeout, migrating: false)
        try await migrate()
    }

    init(path: String, busyTimeout: Duration = .seconds(5), migrating: Bool) throws {
        do {
            self.backend = try SQLiteBackend(path: path, busyTimeout: busyTimeout)
        } catch {
            throw StoreError(code: .unavailable, message: "cannot open the SQLite store \(path): \(error)")
        }
        self.core = SQLStoreCore(backend: backend)
        self.path = path
    }
}
