import Foundation

/// A self-signed certificate for `localhost` and 127.0.0.1 (openssl), written to `certificate` and `key`.
package func makeTestCertificate(certificate: URL, key: URL) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key.path, "-out", certificate.path,
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw BrokerHarnessError("openssl could not make a test certificate (scripts/test.sh installs openssl)")
    }
}

/// A TLS-terminating proxy (`tests/interop/tls_proxy.py`) on 127.0.0.1:`listenPort` in front of a plaintext broker:
/// tansu 0.6 has no TLS listener, so a broker started with `advertisedPort: listenPort` sends every client through
/// it. Stop it with `stop(graceful:)`.
package func startTLSProxy(
    listenPort: Int, targetPort: Int, certificate: URL, key: URL, directory: URL
) async throws -> ChildProcess {
    let script = BrokerTestEnvironment.packageRoot().appendingPathComponent("tests/interop/tls_proxy.py")
    let log = directory.appendingPathComponent("tls-proxy.log")
    let proxy = try ChildProcess.launch(
        executable: try BrokerTestEnvironment.python(),
        arguments: [
            script.path, "--listen-port", String(listenPort), "--target-port", String(targetPort), "--cert",
            certificate.path, "--key", key.path,
        ],
        environment: ProcessInfo.processInfo.environment, log: log)
    let deadline = ContinuousClock.now + .seconds(20)
    while ContinuousClock.now < deadline {
        if ChildProcess.text(of: log, from: 0).contains("ready") { return proxy }
        guard proxy.isRunning else { break }
        try await Task.sleep(for: .milliseconds(50))
    }
    await proxy.stop(graceful: false)
    throw BrokerHarnessError("the TLS proxy did not start: \(ChildProcess.text(of: log, from: 0))")
}
