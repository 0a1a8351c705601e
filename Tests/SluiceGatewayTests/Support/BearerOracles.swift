import Foundation
import SluiceCore

/// The third-party side of the JWT and OAuth2 plan tests, in the project's Python (`SLUICE_PYTHON`, else
/// `.build-venv/bin/python3`): PyJWT mints the tokens and serves a JWK set (tests/interop/jwt_oracle.py), and
/// django-oauth-toolkit is the authorization server (tests/interop/oauth2_server/serve.py).
enum BearerOracles {
    static func packageRoot(filePath: String = #filePath) -> URL {
        var url = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url = url.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: filePath).deletingLastPathComponent()
    }

    static func python() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["SLUICE_PYTHON"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        for name in ["python3", "python"] {
            let candidate = packageRoot().appendingPathComponent(".build-venv/bin/\(name)")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw OracleError("no .build-venv under \(packageRoot().path): run scripts/test.sh, or set SLUICE_PYTHON")
    }

    static var isCI: Bool {
        let value = ProcessInfo.processInfo.environment["CI"] ?? ""
        return !value.isEmpty && value != "0" && value.lowercased() != "false"
    }

    /// Why the oracles cannot run here, or nil. On CI they always run: a missing package is then a failure.
    static let problem: String? = {
        do {
            let output = try run(["-c", "import jwt, cryptography, oauth2_provider, django; print('ok')"])
            return String(decoding: output, as: UTF8.self).hasPrefix("ok")
                ? nil : "PyJWT or django-oauth-toolkit is missing"
        } catch {
            return "PyJWT[crypto] and django-oauth-toolkit are not importable (\(error)): run scripts/test.sh"
        }
    }()

    static var shouldRun: Bool { isCI || problem == nil }

    static func run(_ arguments: [String], input: Data? = nil) throws -> Data {
        let process = Process()
        process.executableURL = try python()
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        let stdin = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw OracleError("python \(arguments.prefix(2)) failed: \(errorText.suffix(2000))")
        }
        return data
    }

    static var jwtOracle: String { packageRoot().appendingPathComponent("tests/interop/jwt_oracle.py").path }

    /// New key pairs: `rsa`, `rsa2`, `ec256`, `ec384`, `ed25519`, each with `private`, `public` (PEM), `jwk`.
    static func keys() throws -> JSONObject {
        guard case .object(let keys) = try JSONValue.parse(json: try run([jwtOracle, "keys"])) else {
            throw OracleError("keys: not an object")
        }
        return keys
    }

    /// Tokens signed by PyJWT, one per request (`alg`, `key`, `claims`, `headers`, or `forge_hmac_key`).
    static func mint(_ requests: [JSONValue]) throws -> [String] {
        let input = Data(JSONValue.array(requests).jsonText().utf8)
        guard case .array(let tokens) = try JSONValue.parse(json: try run([jwtOracle, "mint"], input: input)) else {
            throw OracleError("mint: not an array")
        }
        return tokens.compactMap(\.stringValue)
    }
}

struct OracleError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A Python server started for a test: its first line of output (a port, or a JSON document), and a stop.
final class OracleServer: @unchecked Sendable {
    let process: Process
    let firstLine: String

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process = Process()
        process.executableURL = try BearerOracles.python()
        process.arguments = arguments
        var variables = ProcessInfo.processInfo.environment
        for (key, value) in environment { variables[key] = value }
        process.environment = variables
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var line = Data()
        let handle = output.fileHandleForReading
        // Blocks this thread until the server has printed its line (or died): the servers print it once ready.
        while true {
            let chunk = handle.readData(ofLength: 1)
            if chunk.isEmpty || chunk == Data("\n".utf8) { break }
            line.append(chunk)
        }
        firstLine = String(decoding: line, as: UTF8.self)
        guard !firstLine.isEmpty else {
            process.terminate()
            throw OracleError("\(arguments.first ?? "server") printed nothing: it did not start")
        }
    }

    /// SIGKILL: a child of the test runner may inherit a signal mask that keeps SIGTERM pending forever.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

extension JSONValue {
    /// `["alg": …]` literals for the oracle's requests.
    static func object(_ pairs: KeyValuePairs<String, JSONValue>) -> JSONValue {
        .object(JSONObject(pairs.map { ($0.key, $0.value) }))
    }
}
