import Foundation
import MQTT5
import MQTT5TestSupport
import NIOCore
import NIOSSL
import Testing

/// TLS to mosquitto, with a certificate made for the test by `openssl`.
@Suite(.enabled(if: MosquittoEnvironment.shouldRun, Comment(rawValue: MosquittoEnvironment.skipReason)))
struct TLSBrokerTests {
    @Test func messagesGoOverTLSAndAnUntrustedCertificateIsRefused() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-mqtt-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = directory.appendingPathComponent("cert.pem")
        let key = directory.appendingPathComponent("key.pem")
        try makeCertificate(certificate: certificate, key: key)
        try await withMosquitto(["certfile \(certificate.path)", "keyfile \(key.path)"]) { broker in
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificate.path))
            let client = makeClient(broker, id: "tls-client") {
                $0.tls = tls
                $0.tlsServerHostname = "localhost"
            }
            try await whileRunning([client]) {
                let subscription = try await client.subscribe(to: "secure/#", qos: .exactlyOnce)
                try await client.publish(topic: "secure/a", payload: ByteBuffer(string: "secret"), qos: .exactlyOnce)
                #expect(try await collect(1, from: subscription).map(\.text) == ["secret"])
            }

            // The system's roots do not include the test's certificate: no connection.
            let untrusting = makeClient(broker, id: "tls-untrusting") {
                $0.tls = TLSConfiguration.makeClientConfiguration()
                $0.tlsServerHostname = "localhost"
            }
            let events = untrusting.connectionEvents()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await untrusting.run() }
                let event = try await nextEvent(events) {
                    if case .connectionAttemptFailed = $0 { return true }
                    return false
                }
                try await untrusting.disconnect()
                try await group.waitForAll()
                guard case .connectionAttemptFailed(let error) = event else { return }
                #expect(error.code == .connectionFailed)
                #expect(error.isRetriable)
            }
        }
    }

    private func makeCertificate(certificate: URL, key: URL) throws {
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
            throw HarnessError("openssl could not make a test certificate (status \(process.terminationStatus))")
        }
    }
}
