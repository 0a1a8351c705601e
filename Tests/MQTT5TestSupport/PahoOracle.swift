import Foundation
import MQTT5
import NIOCore

/// Where paho-mqtt (PyPI `paho-mqtt` 2.x, the Eclipse Python client) lives, and whether the interop tests run.
package enum PahoEnvironment {
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

    /// `SLUICE_PYTHON`, else `.build-venv/bin/python3` under the package root (scripts/test.sh creates it and
    /// installs tests/interop/requirements.txt, paho-mqtt among them).
    package static func python() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["SLUICE_PYTHON"], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw HarnessError("SLUICE_PYTHON=\(path) is not an executable file")
            }
            return URL(fileURLWithPath: path)
        }
        for name in ["python3", "python"] {
            let candidate = packageRoot().appendingPathComponent(".build-venv/bin/\(name)")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw HarnessError(
            "the Python of .build-venv is not under \(packageRoot().path): run scripts/test.sh (it creates "
                + ".build-venv with paho-mqtt), or set SLUICE_PYTHON")
    }

    package static var oracleScript: URL { packageRoot().appendingPathComponent("tests/interop/mqtt_oracle.py") }

    /// Why paho cannot run here (no Python, no paho-mqtt in it), or nil when it can. Checked once.
    package static let problem: String? = {
        do {
            let python = try python()
            let process = Process()
            process.executableURL = python
            process.arguments = [oracleScript.path, "--version"]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            guard process.terminationStatus == 0, output.hasPrefix("paho-mqtt 2.") else {
                return "paho-mqtt 2.x is not importable by \(python.path) (`mqtt_oracle.py --version` said: "
                    + "\(output.prefix(300))): run scripts/test.sh, which installs tests/interop/requirements.txt"
            }
            return nil
        } catch {
            return "\(error)"
        }
    }()

    /// Whether the interop tests run: always on CI (where a missing mosquitto, Python or paho-mqtt is a failure,
    /// not a skip), and elsewhere when all three are there.
    package static var shouldRun: Bool {
        MosquittoEnvironment.isCI || (MosquittoEnvironment.shouldRun && problem == nil)
    }

    package static var skipReason: String {
        MosquittoEnvironment.shouldRun ? (problem ?? "") : MosquittoEnvironment.skipReason
    }
}

/// A message as `tests/interop/mqtt_oracle.py` reads and writes it: what paho published or received.
package struct PahoMessage: Codable, Sendable, Equatable {
    package struct Properties: Codable, Sendable, Equatable {
        package var userProperties: [[String]] = []
        package var contentType: String?
        package var responseTopic: String?
        /// Base64.
        package var correlationData: String?
        package var messageExpiryInterval: UInt32?
        package var payloadFormatIndicator: UInt8?
        package var subscriptionIdentifiers: [Int]?
    }

    package var topic: String
    /// Base64.
    package var payload: String
    package var qos: Int
    package var retain: Bool
    package var properties: Properties

    package init(topic: String, payload: [UInt8], qos: MQTTQoS, retain: Bool = false, properties: MQTTProperties) {
        self.topic = topic
        self.payload = Data(payload).base64EncodedString()
        self.qos = Int(qos.rawValue)
        self.retain = retain
        self.properties = Properties(
            userProperties: properties.userProperties.map { [$0.name, $0.value] },
            contentType: properties.contentType, responseTopic: properties.responseTopic,
            correlationData: properties.correlationData.map { Data($0.readableBytesView).base64EncodedString() },
            messageExpiryInterval: properties.messageExpiryInterval,
            payloadFormatIndicator: properties.payloadFormatIndicator?.rawValue)
    }

    package var payloadBytes: [UInt8] { Data(base64Encoded: payload).map { Array($0) } ?? [] }

    /// The properties in the client's terms (subscription identifiers left out).
    package var mqttProperties: MQTTProperties {
        var result = MQTTProperties()
        result.userProperties = properties.userProperties.map { MQTTUserProperty(name: $0[0], value: $0[1]) }
        result.contentType = properties.contentType
        result.responseTopic = properties.responseTopic
        result.correlationData = properties.correlationData.flatMap { Data(base64Encoded: $0) }.map {
            ByteBuffer(bytes: $0)
        }
        result.messageExpiryInterval = properties.messageExpiryInterval
        result.payloadFormatIndicator = properties.payloadFormatIndicator.flatMap(
            MQTTPayloadFormatIndicator.init(rawValue:))
        return result
    }
}

/// paho-mqtt as an independent MQTT 5 peer, driven through `tests/interop/mqtt_oracle.py`: one subcommand per
/// process, one JSON object back.
package struct PahoOracle: Sendable {
    package let python: URL
    package let script: URL

    package init() throws {
        python = try PahoEnvironment.python()
        script = PahoEnvironment.oracleScript
    }

    /// A paho subscriber in the background: returns once its subscription is granted.
    package func subscribe(port: Int, topic: String, qos: MQTTQoS, count: Int) async throws -> PahoSubscriber {
        let run = try OracleRun.start(
            python: python,
            arguments: [
                script.path, "subscribe", "--port", "\(port)", "--topic", topic, "--qos", "\(qos.rawValue)",
                "--count", "\(count)", "--timeout", "30",
            ], readyFile: true)
        do {
            let deadline = ContinuousClock.now + .seconds(30)
            while !FileManager.default.fileExists(atPath: run.readyFile.path) {
                guard run.process.isRunning else { throw run.failure("subscribe") }
                guard ContinuousClock.now < deadline else {
                    throw HarnessError("paho's subscription was not granted within 30 s")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        } catch {
            await run.cancel()
            throw error
        }
        return PahoSubscriber(run: run)
    }

    /// Publishes `messages` with paho, in order, each acknowledged before the next; returns paho's reason codes.
    @discardableResult
    package func publish(port: Int, _ messages: [PahoMessage]) async throws -> [Int] {
        struct Published: Decodable {
            struct Publish: Decodable { let reasonCode: Int }
            let published: [Publish]
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-paho-input-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("messages.jsonl")
        let encoder = OracleRun.encoder
        let lines = try messages.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        try (lines.joined(separator: "\n") + "\n").write(to: input, atomically: true, encoding: .utf8)
        let run = try OracleRun.start(
            python: python, arguments: [script.path, "publish", "--port", "\(port)", "--messages", input.path],
            readyFile: false)
        return try await run.result(Published.self, "publish", timeout: .seconds(60)).published.map(\.reasonCode)
    }
}

/// A running `mqtt_oracle.py subscribe`.
package struct PahoSubscriber: Sendable {
    fileprivate let run: OracleRun

    /// Waits for the subscriber to have its messages (it fails by itself after 30 s) and returns them in arrival
    /// order.
    package func messages() async throws -> [PahoMessage] {
        struct Subscribed: Decodable { let messages: [PahoMessage] }
        return try await run.result(Subscribed.self, "subscribe", timeout: .seconds(60)).messages
    }

    package func cancel() async { await run.cancel() }
}

/// One `mqtt_oracle.py` process, with its stdout, stderr and ready file in a temporary folder.
private struct OracleRun: Sendable {
    package let process: ChildProcess
    package let directory: URL
    package var output: URL { directory.appendingPathComponent("stdout.json") }
    package var log: URL { directory.appendingPathComponent("stderr.log") }
    package var readyFile: URL { directory.appendingPathComponent("ready") }

    package static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    package static func start(python: URL, arguments: [String], readyFile: Bool) throws -> OracleRun {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-paho-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let extra = readyFile ? ["--ready-file", directory.appendingPathComponent("ready").path] : []
        let process = try ChildProcess.launch(
            executable: python, arguments: arguments + extra, log: directory.appendingPathComponent("stderr.log"),
            output: directory.appendingPathComponent("stdout.json"))
        return OracleRun(process: process, directory: directory)
    }

    package func failure(_ command: String) -> HarnessError {
        HarnessError(
            "mqtt_oracle.py \(command) failed (exit status \(process.exitStatus)): "
                + "\(ChildProcess.text(of: output, from: 0))\nstderr:\n\(ChildProcess.tail(of: log, lines: 40))")
    }

    /// Waits for the exit (at most `timeout`, a guard against hangs) and decodes what the script printed.
    package func result<T: Decodable>(_ type: T.Type, _ command: String, timeout: Duration) async throws -> T {
        defer { try? FileManager.default.removeItem(at: directory) }
        await process.waitForExit(timeout: timeout)
        if process.isRunning {
            await process.stop(graceful: true)
            throw HarnessError(
                "mqtt_oracle.py \(command) ran longer than \(timeout); stderr:\n\(ChildProcess.tail(of: log, lines: 40))"
            )
        }
        guard process.exitStatus == 0 else { throw failure(command) }
        let data = FileManager.default.contents(atPath: output.path) ?? Data()
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(T.self, from: data)
        } catch {
            throw HarnessError(
                "mqtt_oracle.py \(command): unexpected output \(String(decoding: data, as: UTF8.self)): \(error)")
        }
    }

    package func cancel() async {
        await process.stop(graceful: false)
        try? FileManager.default.removeItem(at: directory)
    }
}
