import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the test harness (binaries missing, server not starting).
package struct PostgresHarnessError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// Where PostgreSQL's server binaries live, and whether the tests that need them can run here.
package enum PostgresEnvironment {
    /// `SLUICE_POSTGRES_BIN_DIR`, else the newest `/usr/lib/postgresql/<version>/bin` (Debian's postgresql package).
    package static var binDirectory: URL? {
        if let path = ProcessInfo.processInfo.environment["SLUICE_POSTGRES_BIN_DIR"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init)
        for version in versions.sorted(by: >) {
            let bin = "\(root)/\(version)/bin"
            if FileManager.default.isExecutableFile(atPath: "\(bin)/postgres") { return URL(fileURLWithPath: bin) }
        }
        return nil
    }

    package static var isCI: Bool {
        let value = ProcessInfo.processInfo.environment["CI"] ?? ""
        return !value.isEmpty && value != "0" && value.lowercased() != "false"
    }

    /// Whether the PostgreSQL tests run: always on CI (where missing binaries are a failure, not a skip), and
    /// elsewhere when the server binaries are installed.
    package static var shouldRun: Bool { isCI || binDirectory != nil }

    package static let skipReason =
        "PostgreSQL's server is not installed (/usr/lib/postgresql/<version>/bin/postgres): install the Debian "
        + "package postgresql (scripts/test.sh does), or set SLUICE_POSTGRES_BIN_DIR"
}

/// A PostgreSQL server of its own, in a temporary directory, on a free loopback port, for one test: `initdb` with
/// trust authentication for the user `sluice`, then `postgres` as a child process. As root it runs as the
/// `postgres` user (the server refuses to run as root).
///
/// Prefer ``withPostgres(_:)``, which always stops it.
package final class PostgresServer: @unchecked Sendable {
    package let host = "127.0.0.1"
    package let port: Int
    package let directory: URL
    package let user = "sluice"
    private let bin: URL
    private let lock = NSLock()
    private var process: Process?
    private let logFile: URL

    package var url: String { "postgres://\(user)@\(host):\(port)/postgres" }
    package func url(database: String) -> String { "postgres://\(user)@\(host):\(port)/\(database)" }

    private init(bin: URL, directory: URL, port: Int) {
        self.bin = bin
        self.directory = directory
        self.port = port
        self.logFile = directory.appendingPathComponent("server.log")
    }

    /// Creates a cluster and starts it.
    package static func start() async throws -> PostgresServer {
        guard let bin = PostgresEnvironment.binDirectory else {
            throw PostgresHarnessError(PostgresEnvironment.skipReason)
        }
        let directory = URL(fileURLWithPath: "/tmp/sluice-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let server = PostgresServer(bin: bin, directory: directory, port: try freePort())
        if getuid() == 0 { try run("/bin/chown", ["-R", "postgres:postgres", directory.path]) }
        try server.runAsServerUser(
            bin.appendingPathComponent("initdb").path,
            ["-D", server.dataDirectory, "-U", server.user, "--auth=trust", "-E", "UTF8", "-N"])
        try await server.startServer()
        return server
    }

    private var dataDirectory: String { directory.appendingPathComponent("data").path }

    /// Starts the server again after ``stop(removing:)`` with `removing` false, on the same port and data.
    package func restart() async throws {
        try await startServer()
    }

    private func startServer() async throws {
        let process = Process()
        let arguments = [
            "-D", dataDirectory, "-p", "\(port)", "-h", host, "-k", directory.path, "-c", "fsync=off",
            "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
        ]
        (process.executableURL, process.arguments) = Self.asServerUser(
            bin.appendingPathComponent("postgres").path, arguments)
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        if getuid() == 0 { try Self.run("/bin/chown", ["postgres:postgres", logFile.path]) }
        let log = try FileHandle(forWritingTo: logFile)
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        lock.withLock { self.process = process }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                throw PostgresHarnessError("postgres exited at start: \(tail())")
            }
            let ready = Process()
            ready.executableURL = bin.appendingPathComponent("pg_isready")
            ready.arguments = ["-h", host, "-p", "\(port)", "-U", user, "-d", "postgres", "-q"]
            try ready.run()
            ready.waitUntilExit()
            if ready.terminationStatus == 0 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw PostgresHarnessError("postgres did not become ready within 30 s: \(tail())")
    }

    /// Runs SQL with psql against `database` and returns its output (unaligned, tuples only).
    @discardableResult
    package func psql(_ sql: String, database: String = "postgres") throws -> String {
        let process = Process()
        process.executableURL = bin.appendingPathComponent("psql")
        process.arguments = [
            "-h", host, "-p", "\(port)", "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw PostgresHarnessError("psql failed: \(output)") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A new, empty database on this server.
    package func createDatabase() throws -> String {
        let name = "test_\(UUID().uuidString.prefix(8).lowercased())"
        try psql("CREATE DATABASE \(name)")
        return name
    }

    /// Stops the server (fast shutdown: open connections are cut); removes its directory unless told not to.
    package func stop(removing: Bool = true) {
        let process = lock.withLock { () -> Process? in
            defer { self.process = nil }
            return self.process
        }
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGINT)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        if removing { try? FileManager.default.removeItem(at: directory) }
    }

    deinit { stop() }

    private func tail() -> String {
        String(String(decoding: (try? Data(contentsOf: logFile)) ?? Data(), as: UTF8.self).suffix(2000))
    }

    /// The command that runs `path` as the server's user: `setpriv` to `postgres` when running as root (it
    /// replaces itself with the program, so the process is the server).
    private static func asServerUser(_ path: String, _ arguments: [String]) -> (URL, [String]) {
        guard getuid() == 0 else { return (URL(fileURLWithPath: path), arguments) }
        return (
            URL(fileURLWithPath: "/usr/bin/setpriv"),
            ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", path] + arguments
        )
    }

    private func runAsServerUser(_ path: String, _ arguments: [String]) throws {
        let (executable, fullArguments) = Self.asServerUser(path, arguments)
        try Self.run(executable.path, fullArguments)
    }

    private static func run(_ path: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PostgresHarnessError("\(path) \(arguments.joined(separator: " ")) failed: \(output)")
        }
    }

    /// A loopback port nobody listens on now.
    static func freePort() throws -> Int {
        let socketFD = socket(AF_INET, streamSocket, 0)
        guard socketFD >= 0 else { throw PostgresHarnessError("socket() failed") }
        defer { close(socketFD) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, length) }
        }
        guard bound == 0 else { throw PostgresHarnessError("bind() failed") }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Runs `body` against a fresh PostgreSQL server and always stops it.
package func withPostgres<T>(
    isolation: isolated (any Actor)? = #isolation, _ body: (PostgresServer) async throws -> T
) async throws -> T {
    let server = try await PostgresServer.start()
    do {
        let result = try await body(server)
        server.stop()
        return result
    } catch {
        server.stop()
        throw error
    }
}

#if os(Linux)
private let streamSocket = Int32(SOCK_STREAM.rawValue)
#else
private let streamSocket = SOCK_STREAM
#endif
