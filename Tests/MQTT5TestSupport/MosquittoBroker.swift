import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the test harness (binary missing, broker not starting).
package struct HarnessError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// Where mosquitto lives, and whether the broker tests can run here.
package enum MosquittoEnvironment {
    /// `SLUICE_MOSQUITTO_BINARY`, else `/usr/sbin/mosquitto` (Debian's mosquitto package), else `mosquitto` on the
    /// `PATH`.
    package static var binary: URL? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["SLUICE_MOSQUITTO_BINARY"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return executable(named: "mosquitto", preferring: "/usr/sbin/mosquitto")
    }

    /// `mosquitto_pub` and `mosquitto_sub` (Debian's mosquitto-clients).
    package static func clientTool(_ name: String) -> URL? {
        executable(named: name, preferring: "/usr/bin/\(name)")
    }

    private static func executable(named name: String, preferring path: String) -> URL? {
        if FileManager.default.isExecutableFile(atPath: path) { return URL(fileURLWithPath: path) }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
        }
        return nil
    }

    /// The installed mosquitto's version, from `mosquitto -h` ("mosquitto version 2.0.11").
    package static func version() throws -> [Int] {
        guard let binary else { throw HarnessError(skipReason) }
        let process = Process()
        process.executableURL = binary
        process.arguments = ["-h"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard let match = output.firstMatch(of: /mosquitto version (\d+)\.(\d+)\.(\d+)/) else {
            throw HarnessError("no version in `mosquitto -h`: \(output.prefix(200))")
        }
        return [Int(match.1)!, Int(match.2)!, Int(match.3)!]
    }

    package static var isCI: Bool {
        let value = ProcessInfo.processInfo.environment["CI"] ?? ""
        return !value.isEmpty && value != "0" && value.lowercased() != "false"
    }

    /// Whether the broker tests run: always on CI (where a missing mosquitto is a failure, not a skip), and
    /// elsewhere when mosquitto is installed.
    package static var shouldRun: Bool {
        isCI || binary.map { FileManager.default.isExecutableFile(atPath: $0.path) } == true
    }

    package static let skipReason =
        "mosquitto 2.0 is not installed (/usr/sbin/mosquitto): install the Debian packages mosquitto and "
        + "mosquitto-clients (scripts/test.sh does), or set SLUICE_MOSQUITTO_BINARY"
}

/// A mosquitto broker in a child process on a free loopback port, with a generated configuration, for one test.
///
/// Prefer ``withMosquitto(_:_:)``, which always stops it.
package final class MosquittoBroker: @unchecked Sendable {
    package let host = "127.0.0.1"
    package let port: Int
    /// The broker's temporary folder: `mosquitto.conf`, `mosquitto.log`, the persistence database.
    package let directory: URL
    /// The broker's log (mosquitto writes each line at once to a log file, unlike to a redirected stdout).
    package var logFile: URL { directory.appendingPathComponent("mosquitto.log") }
    /// What the process printed (errors before the log is open).
    package var outputFile: URL { directory.appendingPathComponent("mosquitto.out") }

    private let binary: URL
    private let lock = NSLock()
    private var process: ChildProcess?
    private var stopped = false

    private init(binary: URL, port: Int, directory: URL) {
        self.binary = binary
        self.port = port
        self.directory = directory
    }

    /// Starts a broker with `configuration` (lines added to `listener PORT 127.0.0.1` and `allow_anonymous true`),
    /// and waits until it accepts connections. `{dir}` in a line stands for the broker's temporary folder.
    package static func start(
        configuration: [String] = [], timeout: Duration = .seconds(20)
    ) async throws -> MosquittoBroker {
        guard let binary = MosquittoEnvironment.binary,
            FileManager.default.isExecutableFile(atPath: binary.path)
        else {
            throw HarnessError(MosquittoEnvironment.skipReason)
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-mosquitto-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // A port that was free a moment ago can be taken before mosquitto binds it: then another is tried.
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = try freeLoopbackPort()
            let broker = MosquittoBroker(binary: binary, port: port, directory: directory)
            let lines =
                [
                    "listener \(port) 127.0.0.1",
                    "allow_anonymous true",
                    // Started as root, mosquitto switches to the user "mosquitto", who may not write to this folder.
                    "user \(currentUserName())",
                    "log_dest file \(directory.path)/mosquitto.log",
                    "log_type all",
                    "connection_messages true",
                ] + configuration.map { $0.replacingOccurrences(of: "{dir}", with: directory.path) }
            try (lines.joined(separator: "\n") + "\n").write(
                to: directory.appendingPathComponent("mosquitto.conf"), atomically: true, encoding: .utf8)
            do {
                try await broker.launch(timeout: timeout)
                return broker
            } catch let error as AddressInUse {
                lastError = error
            } catch {
                await broker.stop()
                throw error
            }
        }
        try? FileManager.default.removeItem(at: directory)
        throw lastError ?? HarnessError("mosquitto did not start")
    }

    /// Stops the broker (SIGTERM, SIGKILL after 5 s) and removes its folder. Safe to call more than once.
    package func stop() async {
        let alreadyStopped = lock.withLock {
            defer { stopped = true }
            return stopped
        }
        if alreadyStopped { return }
        await stopProcess(graceful: true)
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stops the broker process (SIGTERM: mosquitto saves its persistence database; or SIGKILL) and starts it
    /// again on the same port with the same configuration and folder.
    package func restart(graceful: Bool = true, timeout: Duration = .seconds(20)) async throws {
        await stopProcess(graceful: graceful)
        try await startAgain(timeout: timeout)
    }

    /// Stops the broker process only; `startAgain` brings it back.
    package func stopProcess(graceful: Bool) async {
        let process = lock.withLock {
            defer { self.process = nil }
            return self.process
        }
        await process?.stop(graceful: graceful)
    }

    /// Starts the broker again after `stopProcess` (the port may be busy for a moment: a few attempts).
    package func startAgain(timeout: Duration = .seconds(20)) async throws {
        var attempt = 0
        while true {
            do {
                try await launch(timeout: timeout)
                return
            } catch is AddressInUse where attempt < 20 {
                attempt += 1
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    /// Freezes the broker process (SIGSTOP): its connections stay open and nothing is answered, as a hung broker.
    package func pause() {
        lock.withLock { process }?.send(SIGSTOP)
    }

    /// Lets a paused broker run again (SIGCONT).
    package func resume() {
        lock.withLock { process }?.send(SIGCONT)
    }

    package func logTail(lines: Int = 60) -> String {
        ChildProcess.tail(of: outputFile, lines: 10) + "\n" + ChildProcess.tail(of: logFile, lines: lines)
    }

    /// The whole log so far.
    package var log: String { ChildProcess.text(of: logFile, from: 0) }

    private func launch(timeout: Duration) async throws {
        let outputStart = (try? FileManager.default.attributesOfItem(atPath: outputFile.path)[.size] as? Int) ?? 0
        let logStart = (try? FileManager.default.attributesOfItem(atPath: logFile.path)[.size] as? Int) ?? 0
        let process = try ChildProcess.launch(
            executable: binary, arguments: ["-c", directory.appendingPathComponent("mosquitto.conf").path],
            log: outputFile)
        lock.withLock { self.process = process }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if !process.isRunning {
                let output =
                    ChildProcess.text(of: logFile, from: logStart)
                    + ChildProcess.text(of: outputFile, from: outputStart)
                if output.contains("Address already in use") { throw AddressInUse(port: port) }
                throw HarnessError(
                    "mosquitto exited (status \(process.exitStatus)) before accepting connections on port \(port); "
                        + "log tail:\n\(logTail())")
            }
            if canConnect(port: port) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        await stopProcess(graceful: false)
        throw HarnessError("mosquitto did not accept connections on \(port) within \(timeout); log:\n\(logTail())")
    }
}

private struct AddressInUse: Error, CustomStringConvertible {
    package let port: Int
    package var description: String { "127.0.0.1:\(port) is in use" }
}

/// Runs `body` with a started broker and always stops it afterwards; when `body` throws, the tail of the broker's
/// log goes to stderr.
package func withMosquitto<T>(
    _ configuration: [String] = [],
    isolation: isolated (any Actor)? = #isolation,
    _ body: (MosquittoBroker) async throws -> T
) async throws -> T {
    let broker = try await MosquittoBroker.start(configuration: configuration)
    do {
        let result = try await body(broker)
        if ProcessInfo.processInfo.environment["SLUICE_TEST_LOG"] == "debug" {
            FileHandle.standardError.write(Data("mosquitto log:\n\(broker.logTail(lines: 100_000))\n".utf8))
        }
        await broker.stop()
        return result
    } catch {
        // SLUICE_TEST_LOG_LINES=N shows more of the log.
        let lines = ProcessInfo.processInfo.environment["SLUICE_TEST_LOG_LINES"].flatMap { Int($0) } ?? 60
        FileHandle.standardError.write(
            Data("mosquitto log tail after \(error):\n\(broker.logTail(lines: lines))\n".utf8))
        await broker.stop()
        throw error
    }
}

// MARK: - child processes

/// A child process whose output goes to a log file, watched by a small shell process that kills it if the test
/// process dies first (so no broker outlives a crashed test run).
package final class ChildProcess: @unchecked Sendable {
    private let process: Process
    private let watchdog: Process?

    private init(process: Process, watchdog: Process?) {
        self.process = process
        self.watchdog = watchdog
    }

    package var isRunning: Bool { process.isRunning }
    package var exitStatus: Int32 { process.isRunning ? -1 : process.terminationStatus }

    package static func launch(
        executable: URL, arguments: [String], log: URL, output: URL? = nil
    ) throws -> ChildProcess {
        if !FileManager.default.fileExists(atPath: log.path) {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let logHandle = try FileHandle(forWritingTo: log)
        defer { try? logHandle.close() }
        logHandle.seekToEndOfFile()
        var outputHandle: FileHandle?
        if let output {
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            outputHandle = try FileHandle(forWritingTo: output)
        }
        defer { try? outputHandle?.close() }

        let process = Process()
        #if os(Linux)
        // A test process blocks SIGTERM in the signal mask its children inherit: env --default-signal unblocks
        // every signal before the exec, so SIGTERM stops mosquitto gracefully (saving its database).
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["--default-signal", executable.path] + arguments
        #else
        process.executableURL = executable
        process.arguments = arguments
        #endif
        process.standardOutput = outputHandle ?? logHandle
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()

        let watchdog = Process()
        watchdog.executableURL = URL(fileURLWithPath: "/bin/sh")
        watchdog.arguments = [
            "-c",
            "while kill -0 \"$0\" 2>/dev/null && kill -0 \"$1\" 2>/dev/null; do sleep 1; done; "
                + "kill -0 \"$0\" 2>/dev/null || kill -KILL \"$1\" 2>/dev/null",
            String(getpid()), String(process.processIdentifier),
        ]
        watchdog.standardInput = FileHandle.nullDevice
        watchdog.standardOutput = FileHandle.nullDevice
        watchdog.standardError = FileHandle.nullDevice
        try? watchdog.run()
        return ChildProcess(process: process, watchdog: watchdog.isRunning ? watchdog : nil)
    }

    /// Sends `signal` to the process while it runs.
    package func send(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// SIGTERM (graceful) or SIGKILL, waiting at most `timeout` for the exit; SIGKILL when SIGTERM was not enough.
    package func stop(graceful: Bool, timeout: Duration = .seconds(5)) async {
        if process.isRunning { kill(process.processIdentifier, graceful ? SIGTERM : SIGKILL) }
        await waitForExit(timeout: timeout)
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            await waitForExit(timeout: timeout)
        }
    }

    /// Waits until the process has exited, at most `timeout`; then stops the watchdog.
    package func waitForExit(timeout: Duration) async {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while process.isRunning && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if !process.isRunning, let watchdog, watchdog.isRunning { watchdog.terminate() }
    }

    package static func tail(of file: URL, lines: Int) -> String {
        guard let data = FileManager.default.contents(atPath: file.path) else { return "" }
        let text = String(decoding: data.suffix(64 * 1024), as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    package static func text(of file: URL, from offset: Int) -> String {
        guard let data = FileManager.default.contents(atPath: file.path), data.count > offset else { return "" }
        return String(decoding: data.dropFirst(offset), as: UTF8.self)
    }
}

// MARK: - loopback sockets

#if canImport(Glibc)
private let streamSocket = Int32(SOCK_STREAM.rawValue)
#else
private let streamSocket = SOCK_STREAM
#endif

private func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port)).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}

/// The name of the user this process runs as.
package func currentUserName() -> String {
    guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return "root" }
    return String(cString: name)
}

/// A port that is free on 127.0.0.1 now: bind port 0, read the port the kernel chose, close.
package func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, streamSocket, 0)
    guard fd >= 0 else { throw HarnessError("socket() failed: errno \(errno)") }
    defer { close(fd) }
    var address = loopbackAddress(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard bound == 0 else { throw HarnessError("bind(127.0.0.1:0) failed: errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw HarnessError("getsockname failed: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether something accepts TCP connections on 127.0.0.1:`port` now.
package func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, streamSocket, 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = loopbackAddress(port: port)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    return connected == 0
}
