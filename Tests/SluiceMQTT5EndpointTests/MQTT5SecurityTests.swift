import Foundation
import GatewayTestSupport
import MQTT5TestSupport
import Testing

/// `security.auth` and `security.ssl` against a mosquitto that asks for them: a password file, and a TLS listener
/// with a certificate made for the test by `openssl`.
@Suite(
    "mqtt5 endpoint: credentials and TLS", .serialized,
    .enabled(if: MQTT5EndpointTestEnvironment.enabled, MQTT5EndpointTestEnvironment.skipReason))
struct MQTT5SecurityTests {
    static func api(id: String, port: Int, security: String, topic: String) -> String {
        MQTT5API.definition(
            id: id, path: "/\(id)", port: port,
            entrypoints: """
                [\(MQTT5API.entrypoint("http-post", qos: "auto")), \(MQTT5API.entrypoint("sse", qos: "auto"))]
                """,
            shared: "{ \"security\": \(security), \(MQTT5API.consumer(topic)), \(MQTT5API.producer(topic)) }")
    }

    @Test("auth: the right credentials publish and stream; wrong ones give 503 MQTT5_AUTHENTICATION_FAILED")
    func credentials() async throws {
        let directory = try Self.temporaryDirectory("auth")
        defer { try? FileManager.default.removeItem(at: directory) }
        let passwords = directory.appendingPathComponent("passwords")
        try Self.run("/usr/bin/mosquitto_passwd", ["-b", "-c", passwords.path, "gateway", "s3cret"])
        try await withMosquitto(["allow_anonymous false", "password_file \(passwords.path)"]) { broker in
            let topic = uniqueTopic("auth")
            let good = Self.api(
                id: "good", port: broker.port,
                security: #"{ "auth": { "username": "gateway", "password": "s3cret" } }"#,
                topic: topic)
            let bad = Self.api(
                id: "bad", port: broker.port, security: #"{ "auth": { "username": "gateway", "password": "wrong" } }"#,
                topic: topic)
            try await withMQTT5Gateway(["good.json": good, "bad.json": bad]) { gateway in
                let stream = try await RawSSEClient.open(port: gateway.port, path: "/good")
                #expect(stream.status == 200)
                let posted = try await httpCall(.POST, "\(gateway.baseURL)/good", body: "authenticated")
                #expect(posted.status == 202, "\(posted.body)")
                let events = try await within(.seconds(20), "the message") { try await stream.messages(1) }
                #expect(events.first?.data == "authenticated")
                await stream.close()

                let refused = try await httpCall(.POST, "\(gateway.baseURL)/bad", body: "x")
                #expect(refused.status == 503, "\(refused.body)")
                #expect(refused.json?["key"]?.stringValue == "MQTT5_AUTHENTICATION_FAILED", "\(refused.body)")
                let refusedStream = try await RawSSEClient.open(port: gateway.port, path: "/bad")
                #expect(refusedStream.status == 503)
                await refusedStream.close()
            }
        }
    }

    @Test("ssl: a PEM trust store (path, and content in base64) reaches a TLS listener; the system roots do not")
    func tls() async throws {
        let directory = try Self.temporaryDirectory("tls")
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = directory.appendingPathComponent("cert.pem")
        let key = directory.appendingPathComponent("key.pem")
        try Self.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key.path, "-out", certificate.path,
            ])
        let encoded = try Data(contentsOf: certificate).base64EncodedString()
        try await withMosquitto(["certfile \(certificate.path)", "keyfile \(key.path)"]) { broker in
            let topic = uniqueTopic("tls")
            let byPath = Self.api(
                id: "bypath", port: broker.port,
                security: #"{ "ssl": { "trustStore": { "type": "PEM", "path": "\#(certificate.path)" } } }"#,
                topic: topic)
            let byContent = Self.api(
                id: "bycontent", port: broker.port,
                security: #"{ "ssl": { "trustStore": { "type": "PEM", "content": "\#(encoded)" } } }"#, topic: topic)
            let untrusting = Self.api(
                id: "untrusting", port: broker.port, security: #"{ "ssl": { "trustStore": { "type": "NONE" } } }"#,
                topic: topic)
            try await withMQTT5Gateway(["bypath.json": byPath, "bycontent.json": byContent, "u.json": untrusting]) {
                gateway in
                let stream = try await RawSSEClient.open(port: gateway.port, path: "/bycontent")
                #expect(stream.status == 200)
                let posted = try await httpCall(.POST, "\(gateway.baseURL)/bypath", body: "over TLS")
                #expect(posted.status == 202, "\(posted.body)")
                let events = try await within(.seconds(20), "the message") { try await stream.messages(1) }
                #expect(events.first?.data == "over TLS")
                await stream.close()

                let refused = try await httpCall(.POST, "\(gateway.baseURL)/untrusting", body: "x")
                #expect(refused.status == 503, "\(refused.body)")
                #expect(refused.json?["key"]?.stringValue == "MQTT5_UNAVAILABLE", "\(refused.body)")
            }
        }
    }

    @Test("ssl: a PEM key store (certPath and keyPath) gives the client certificate a broker requires; none: 503")
    func clientCertificate() async throws {
        let directory = try Self.temporaryDirectory("mtls")
        defer { try? FileManager.default.removeItem(at: directory) }
        func makeCertificate(_ name: String, subject: String, extra: [String] = []) throws -> (URL, URL) {
            let certificate = directory.appendingPathComponent("\(name).pem")
            let key = directory.appendingPathComponent("\(name)-key.pem")
            try Self.run(
                "/usr/bin/openssl",
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", subject, "-keyout",
                    key.path, "-out", certificate.path,
                ] + extra)
            return (certificate, key)
        }
        let (server, serverKey) = try makeCertificate(
            "server", subject: "/CN=localhost", extra: ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // Self-signed: the client certificate is its own authority, which the broker trusts.
        let (client, clientKey) = try makeCertificate("client", subject: "/CN=sluice-gateway")
        let configuration = [
            "certfile \(server.path)", "keyfile \(serverKey.path)", "cafile \(client.path)", "require_certificate true",
        ]
        try await withMosquitto(configuration) { broker in
            let topic = uniqueTopic("mtls")
            let trust = #""trustStore": { "type": "PEM", "path": "\#(server.path)" }"#
            let withKey = Self.api(
                id: "withkey", port: broker.port,
                security: """
                    { "ssl": { \(trust), "keyStore": { "type": "PEM", "certPath": "\(client.path)", "keyPath": "\(clientKey.path)" } } }
                    """, topic: topic)
            let withoutKey = Self.api(
                id: "withoutkey", port: broker.port, security: "{ \"ssl\": { \(trust) } }", topic: topic)
            try await withMQTT5Gateway(["withkey.json": withKey, "withoutkey.json": withoutKey]) { gateway in
                let posted = try await httpCall(.POST, "\(gateway.baseURL)/withkey", body: "mutual")
                #expect(posted.status == 202, "\(posted.body)")
                let refused = try await httpCall(.POST, "\(gateway.baseURL)/withoutkey", body: "x")
                #expect(refused.status == 503, "\(refused.body)")
                #expect(refused.json?["key"]?.stringValue == "MQTT5_UNAVAILABLE", "\(refused.body)")
            }
        }
    }

    static func temporaryDirectory(_ name: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-mqtt5-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessFailure("\(executable) failed with status \(process.terminationStatus)")
        }
    }
}
