import Foundation
import KafkaClient
import KafkaWire
import SluiceCore
import SluiceEndpoints
import Testing

@Suite("kafka endpoint configuration")
struct KafkaEndpointConfigurationTests {
    static let endpointPath = "endpointGroups[0].endpoints[0]"
    static let overridePath = "endpointGroups[0].endpoints[0].sharedConfigurationOverride"

    /// Reads an endpoint of a kafka group written as a Gravitee v4 definition.
    static func parse(
        configuration: String = #"{ "bootstrapServers": "127.0.0.1:9092" }"#,
        shared: String,
        inherit: Bool = false,
        groupShared: String = "{}"
    ) throws -> (configuration: KafkaEndpointConfiguration?, diagnostics: [Diagnostic]) {
        let json = """
            { "id": "k", "name": "k", "apiVersion": "1", "definitionVersion": "4.0.0", "type": "message",
              "listeners": [{ "type": "http", "paths": [{ "path": "/k" }], "entrypoints": [{ "type": "sse" }] }],
              "endpointGroups": [{ "name": "g", "type": "kafka", "sharedConfiguration": \(groupShared),
                "endpoints": [{ "name": "e", "type": "kafka", "weight": 1, "inheritConfiguration": \(inherit),
                  "configuration": \(configuration), "sharedConfigurationOverride": \(shared) }] }] }
            """
        let read = APIDefinitionReader().read(try JSONValue.parse(json: Data(json.utf8)))
        let definition = try #require(read.definition, "\(read.diagnostics)")
        let group = definition.endpointGroups[0]
        var diagnostics = DiagnosticCollector()
        let parsed = KafkaEndpointConfiguration.parse(
            endpoint: group.endpoints[0], group: group, diagnostics: &diagnostics)
        return (parsed, diagnostics.diagnostics)
    }

    static func errors(_ diagnostics: [Diagnostic]) -> [Diagnostic] { diagnostics.filter { $0.severity == .error } }

    static let consumer = #"{ "consumer": { "enabled": true, "topics": ["orders"] } }"#

    @Test("a consumer with Gravitee's defaults: latest, ids in base64, no topic check, plaintext")
    func consumerDefaults() throws {
        let (parsed, diagnostics) = try Self.parse(shared: Self.consumer)
        #expect(diagnostics.isEmpty)
        let configuration = try #require(parsed)
        #expect(configuration.bootstrapServers == [.init(host: "127.0.0.1", port: 9092)])
        #expect(configuration.consumer.enabled && configuration.consumer.topics == ["orders"])
        #expect(configuration.consumer.autoOffsetReset == .latest)
        #expect(configuration.consumer.encodeMessageId)
        #expect(!configuration.consumer.checkTopicExistence)
        #expect(configuration.consumer.topicPattern == nil)
        #expect(!configuration.producer.enabled)
        #expect(configuration.securityProtocol == .plaintext && configuration.sasl == nil && configuration.tls == nil)
        #expect(configuration.modes == [.subscribe])
    }

    @Test("every consumer and producer field")
    func allFields() throws {
        let (parsed, diagnostics) = try Self.parse(
            configuration: #"{ "bootstrapServers": " PLAINTEXT://a.example:9092, b.example:19092 ,[::1]:9093" }"#,
            shared: """
                { "consumer": { "enabled": true, "topicPattern": "orders-.*", "autoOffsetReset": "EARLIEST",
                                "encodeMessageId": false, "checkTopicExistence": "true" },
                  "producer": { "enabled": true, "topics": ["a", "b.c"], "compressionType": "zstd", "acks": "1" } }
                """)
        #expect(Self.errors(diagnostics).isEmpty, "\(diagnostics)")
        let configuration = try #require(parsed)
        #expect(
            configuration.bootstrapServers == [
                .init(host: "a.example", port: 9092), .init(host: "b.example", port: 19092),
                .init(host: "::1", port: 9093),
            ])
        #expect(configuration.consumer.topicPattern == "orders-.*" && configuration.consumer.topics.isEmpty)
        #expect(configuration.consumer.autoOffsetReset == .earliest)
        #expect(!configuration.consumer.encodeMessageId && configuration.consumer.checkTopicExistence)
        #expect(configuration.producer.topics == ["a", "b.c"])
        #expect(configuration.producer.compression == .zstd && configuration.producer.acks == .leader)
        #expect(configuration.modes == [.publish, .subscribe])
    }

    @Test(
        "invalid values are reported at their JSON path",
        arguments: [
            (#"{ "bootstrapServers": "wrong" }"#, consumer, "configuration.bootstrapServers"),
            (#"{ "bootstrapServers": "host:notaport" }"#, consumer, "configuration.bootstrapServers"),
            (#"{ "bootstrapServers": " , " }"#, consumer, "configuration.bootstrapServers"),
            (#"{}"#, consumer, "configuration.bootstrapServers"),
            (#"{ "bootstrapServers": 42 }"#, consumer, "configuration.bootstrapServers"),
            (
                #"{ "bootstrapServers": "{#secrets.get('/vault/kafka')}" }"#, consumer,
                "configuration.bootstrapServers"
            ),
            (#"{ "bootstrapServers": "h:1" }"#, #"{}"#, "sharedConfigurationOverride"),
            (#"{ "bootstrapServers": "h:1" }"#, #"{ "consumer": { "enabled": true } }"#, "consumer.topics"),
            (
                #"{ "bootstrapServers": "h:1" }"#, #"{ "consumer": { "enabled": true, "topics": [] } }"#,
                "consumer.topics"
            ),
            (
                #"{ "bootstrapServers": "h:1" }"#,
                #"{ "consumer": { "enabled": true, "topics": ["a"], "topicPattern": "b" } }"#, "consumer"
            ),
            (
                #"{ "bootstrapServers": "h:1" }"#, #"{ "consumer": { "enabled": true, "topicPattern": "(" } }"#,
                "consumer.topicPattern"
            ),
            (
                #"{ "bootstrapServers": "h:1" }"#, #"{ "consumer": { "enabled": true, "topics": ["bad topic!"] } }"#,
                "consumer.topics[0]"
            ),
            (
                #"{ "bootstrapServers": "h:1" }"#, #"{ "consumer": { "enabled": true, "topics": [7] } }"#,
                "consumer.topics[0]"
            ),
            (
                #"{ "bootstrapServers": "h:1" }"#,
                #"{ "consumer": { "enabled": true, "topics": ["a"], "autoOffsetReset": "smallest" } }"#,
                "consumer.autoOffsetReset"
            ),
            (
                #"{ "bootstrapServers": "h:1" }"#,
                #"{ "consumer": { "enabled": true, "topics": ["a"], "autoOffsetReset": "{#request.headers['x'][0]}" } }"#,
                "consumer.autoOffsetReset"
            ),
            (
                #"{ "bootstrapServers": "h:1" }"#,
                #"{ "consumer": { "enabled": "yes", "topics": ["a"] } }"#, "consumer.enabled"
            ),
            (#"{ "bootstrapServers": "h:1" }"#, #"{ "producer": { "enabled": true } }"#, "producer.topics"),
            (
                #"{ "bootstrapServers": "h:1" }"#,
                #"{ "producer": { "enabled": true, "topics": ["a"], "compressionType": "brotli" } }"#,
                "producer.compressionType"
            ),
            (
                #"{ "bootstrapServers": "h:1" }"#,
                #"{ "producer": { "enabled": true, "topics": ["a"], "acks": "0" } }"#,
                "producer.acks"
            ),
            (
                #"{ "bootstrapServers": "h:1" }"#,
                #"{ "security": { "protocol": "TLS" }, "producer": { "enabled": true, "topics": ["a"] } }"#,
                "security.protocol"
            ),
            (#"{ "bootstrapServers": "h:1" }"#, #"{ "consumer": "yes" }"#, "consumer"),
        ])
    func invalid(configuration: String, shared: String, path: String) throws {
        let (parsed, diagnostics) = try Self.parse(configuration: configuration, shared: shared)
        #expect(parsed == nil)
        let errors = Self.errors(diagnostics)
        let expected = path.hasPrefix("configuration") ? "\(Self.endpointPath).\(path)" : "\(Self.overridePath).\(path)"
        #expect(
            errors.contains {
                $0.path == expected || ($0.path == Self.overridePath && path == "sharedConfigurationOverride")
            },
            "no error at \(expected): \(errors)")
    }

    @Test("a Gravitee expression is refused by name")
    func expressions() throws {
        let (_, diagnostics) = try Self.parse(
            configuration: #"{ "bootstrapServers": "{#secrets.get('/vault/secret/kafka:bootstrap')}" }"#,
            shared: Self.consumer)
        #expect(diagnostics.contains { $0.code == "UNSUPPORTED_EXPRESSION" })
    }

    @Test("unknown fields are warnings with their paths, and do not stop the endpoint")
    func unknownFields() throws {
        let (parsed, diagnostics) = try Self.parse(
            configuration: #"{ "bootstrapServers": "h:1", "bogus": 1 }"#,
            shared: #"{ "consumer": { "enabled": true, "topics": ["a"], "removeConfluentHeader": true }, "extra": {} }"#
        )
        #expect(parsed != nil)
        let warnings = Set(diagnostics.filter { $0.severity == .warning }.map(\.path))
        #expect(
            warnings == [
                "\(Self.endpointPath).configuration.bogus", "\(Self.overridePath).extra",
                "\(Self.overridePath).consumer.removeConfluentHeader",
            ])
    }

    @Test("inheritConfiguration true runs with the group's sharedConfiguration and ignores the override")
    func inheritsTheGroup() throws {
        let (parsed, diagnostics) = try Self.parse(
            shared: #"{ "consumer": { "enabled": true, "topics": ["mine"] } }"#, inherit: true,
            groupShared: #"{ "producer": { "enabled": true, "topics": ["shared"] } }"#)
        #expect(diagnostics.isEmpty)
        let configuration = try #require(parsed)
        #expect(configuration.producer.topics == ["shared"] && !configuration.consumer.enabled)
        let (_, errors) = try Self.parse(
            shared: "{}", inherit: true, groupShared: #"{ "producer": { "enabled": true, "topics": ["x y"] } }"#)
        #expect(errors.contains { $0.path == "endpointGroups[0].sharedConfiguration.producer.topics[0]" })
    }

    @Test("inheritConfiguration false runs with the override alone: Gravitee does not merge it with the group's")
    func overrideIsWhole() throws {
        let (parsed, _) = try Self.parse(
            shared: #"{ "consumer": { "enabled": true, "topics": ["mine"] } }"#, inherit: false,
            groupShared:
                #"{ "producer": { "enabled": true, "topics": ["shared"] }, "security": { "protocol": "SSL" } }"#)
        let configuration = try #require(parsed)
        #expect(configuration.consumer.topics == ["mine"] && !configuration.producer.enabled)
        #expect(configuration.securityProtocol == .plaintext)
    }

    // MARK: Security

    static func security(_ security: String) -> String {
        #"{ "security": \#(security), "producer": { "enabled": true, "topics": ["a"] } }"#
    }

    @Test(
        "SASL: PLAIN and SCRAM with the JAAS text Gravitee users write",
        arguments: [
            (
                "PLAIN", "org.apache.kafka.common.security.plain.PlainLoginModule",
                KafkaClientConfiguration.SASL.Mechanism.plain
            ),
            ("SCRAM-SHA-256", "org.apache.kafka.common.security.scram.ScramLoginModule", .scramSHA256),
            ("SCRAM_SHA-256", "org.apache.kafka.common.security.scram.ScramLoginModule", .scramSHA256),
            ("scram-sha-512", "org.apache.kafka.common.security.scram.ScramLoginModule", .scramSHA512),
        ])
    func sasl(mechanism: String, module: String, expected: KafkaClientConfiguration.SASL.Mechanism) throws {
        let jaas = #"\#(module) required username=\"app\" password=\"p@ss;word\";"#
        let (parsed, diagnostics) = try Self.parse(
            shared: Self.security(
                #"{ "protocol": "SASL_PLAINTEXT", "sasl": { "saslMechanism": "\#(mechanism)", "saslJaasConfig": "\#(jaas)" } }"#
            ))
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let configuration = try #require(parsed)
        #expect(configuration.securityProtocol == .saslPlaintext)
        #expect(configuration.sasl?.mechanism == expected)
        #expect(configuration.sasl?.username == "app" && configuration.sasl?.password == "p@ss;word")
        #expect(configuration.tls == nil)
        #expect(configuration.clientConfiguration.sasl?.username == "app")
    }

    @Test(
        "SASL problems are reported at their path, without the secret",
        arguments: [
            (
                #"{ "protocol": "SASL_SSL", "sasl": { "saslMechanism": "GSSAPI", "saslJaasConfig": "com.sun.security.auth.module.Krb5LoginModule required;" } }"#,
                "sasl.saslMechanism"
            ),
            (
                #"{ "protocol": "SASL_SSL", "sasl": { "saslMechanism": "OAUTHBEARER", "saslJaasConfig": "x required;" } }"#,
                "sasl.saslMechanism"
            ),
            (
                #"{ "protocol": "SASL_SSL", "sasl": { "saslMechanism": "DIGEST", "saslJaasConfig": "x required;" } }"#,
                "sasl.saslMechanism"
            ),
            (#"{ "protocol": "SASL_PLAINTEXT", "sasl": { "saslJaasConfig": "x required;" } }"#, "sasl.saslMechanism"),
            (#"{ "protocol": "SASL_PLAINTEXT", "sasl": { "saslMechanism": "PLAIN" } }"#, "sasl.saslJaasConfig"),
            (#"{ "protocol": "SASL_PLAINTEXT" }"#, "sasl.saslMechanism"),
            (
                #"{ "protocol": "SASL_PLAINTEXT", "sasl": { "saslMechanism": "PLAIN", "saslJaasConfig": "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"secret\";" } }"#,
                "sasl.saslJaasConfig"
            ),
            (
                #"{ "protocol": "SASL_PLAINTEXT", "sasl": { "saslMechanism": "PLAIN", "saslJaasConfig": "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\";" } }"#,
                "sasl.saslJaasConfig"
            ),
            (
                #"{ "protocol": "SASL_PLAINTEXT", "sasl": { "saslMechanism": "PLAIN", "saslJaasConfig": "org.apache.kafka.common.security.plain.PlainLoginModule required password=\"secret" } }"#,
                "sasl.saslJaasConfig"
            ),
        ])
    func saslProblems(security: String, path: String) throws {
        let (parsed, diagnostics) = try Self.parse(shared: Self.security(security))
        #expect(parsed == nil)
        let errors = Self.errors(diagnostics)
        #expect(errors.contains { $0.path == "\(Self.overridePath).security.\(path)" }, "\(errors)")
        #expect(!errors.contains { $0.message.contains("secret") })
    }

    @Test("sasl and ssl with a protocol that does not use them are ignored with a warning")
    func ignoredSecurity() throws {
        let (parsed, diagnostics) = try Self.parse(
            shared: Self.security(#"{ "protocol": "PLAINTEXT", "sasl": { "saslMechanism": "PLAIN" }, "ssl": {} }"#))
        #expect(parsed?.sasl == nil && parsed?.tls == nil)
        #expect(
            Set(diagnostics.filter { $0.severity == .warning }.map(\.path)) == [
                "\(Self.overridePath).security.sasl", "\(Self.overridePath).security.ssl",
            ])
    }

    static let certificate = """
        -----BEGIN CERTIFICATE-----
        MIIBgzCCASmgAwIBAgIUWw0WtfLEQCEe9g4WLeEop/Jm0fIwCgYIKoZIzj0EAwIw
        FjEUMBIGA1UEAwwLc2x1aWNlLXRlc3QwIBcNMjYxMTI5MTEwNjU4WhgPMjEyNjEx
        MDUxMTA2NThaMBYxFDASBgNVBAMMC3NsdWljZS10ZXN0MFkwEwYHKoZIzj0CAQYI
        KoZIzj0DAQcDQgAEyl0lb6EVbdF26mgGiWvx33xJCbQKDcllAK60USeXt2ePG9a7
        2c4lXH6NypUI6/IjM2nb0q+08NUMvgejH0jBl6NTMFEwHQYDVR0OBBYEFD/6zSU0
        hGd6lP8zC1uUhmZgbFCwMB8GA1UdIwQYMBaAFD/6zSU0hGd6lP8zC1uUhmZgbFCw
        MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhANr7XHVOOtw4pg+R
        ghzKCmvEAfrOnh20KVFnz1zihLYoAiBsJkqNKV0KnftX+VhcYkFR81hdWlhpYbiu
        k3CNAEBBOg==
        -----END CERTIFICATE-----
        """
    static let privateKey = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg0QGwnun0qq8wuMAt
        XHvTlJnQ0i5iPYt4uwx8hBL0DAehRANCAATKXSVvoRVt0XbqaAaJa/HffEkJtAoN
        yWUArrRRJ5e3Z48b1rvZziVcfo3KlQjr8iMzadvSr7Tw1Qy+B6MfSMGX
        -----END PRIVATE KEY-----
        """

    static func json(_ text: String) -> String {
        String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
    }

    @Test("SSL: PEM trust store and key store as content, or as files")
    func tlsStores() throws {
        let (parsed, diagnostics) = try Self.parse(
            shared: Self.security(
                """
                { "protocol": "SSL", "ssl": { "hostnameVerifier": false,
                  "trustStore": { "type": "PEM", "certificates": \(Self.json(Self.certificate)) },
                  "keyStore": { "type": "PEM", "certificateChain": \(Self.json(Self.certificate)), "key": \(Self.json(Self.privateKey)) } } }
                """))
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let tls = try #require(parsed?.tls)
        #expect(tls.certificateChain.count == 1)
        #expect(tls.privateKey != nil)
        #expect(tls.certificateVerification == .noHostnameVerification)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let trustFile = directory.appendingPathComponent("ca.pem")
        let keyFile = directory.appendingPathComponent("client.pem")
        try Self.certificate.write(to: trustFile, atomically: true, encoding: .utf8)
        try (Self.certificate + "\n" + Self.privateKey).write(to: keyFile, atomically: true, encoding: .utf8)
        let (fromFiles, fileDiagnostics) = try Self.parse(
            shared: Self.security(
                """
                { "protocol": "SASL_SSL", "sasl": { "saslMechanism": "PLAIN", "saslJaasConfig": "org.apache.kafka.common.security.plain.PlainLoginModule required username='u' password='p';" },
                  "ssl": { "trustStore": { "location": "\(trustFile.path)" }, "keyStore": { "location": "\(keyFile.path)" } } }
                """))
        #expect(fileDiagnostics.isEmpty, "\(fileDiagnostics)")
        #expect(fromFiles?.tls?.privateKey != nil && fromFiles?.sasl?.username == "u")
        #expect(fromFiles?.tls?.certificateVerification == .fullVerification)
    }

    @Test(
        "SSL problems are reported at their path",
        arguments: [
            (#"{ "trustStore": { "type": "JKS", "location": "/x.jks", "password": "p" } }"#, "ssl.trustStore.type"),
            (
                #"{ "trustStore": { "type": "PEM", "certificates": "not a certificate" } }"#,
                "ssl.trustStore.certificates"
            ),
            (#"{ "trustStore": { "type": "PEM", "location": "/nonexistent/ca.pem" } }"#, "ssl.trustStore.location"),
            (#"{ "trustStore": { "type": "PEM" } }"#, "ssl.trustStore"),
            (
                #"{ "keyStore": { "type": "PKCS12", "location": "/nonexistent/k.p12", "password": "p" } }"#,
                "ssl.keyStore.location"
            ),
            (#"{ "keyStore": { "type": "JKS", "location": "/k.jks" } }"#, "ssl.keyStore.type"),
            (
                #"{ "keyStore": { "type": "PEM", "certificateChain": "nope", "key": "nope" } }"#,
                "ssl.keyStore.certificateChain"
            ),
        ])
    func tlsProblems(ssl: String, path: String) throws {
        let (parsed, diagnostics) = try Self.parse(shared: Self.security(#"{ "protocol": "SSL", "ssl": \#(ssl) }"#))
        #expect(parsed == nil)
        let errors = Self.errors(diagnostics)
        #expect(errors.contains { $0.path == "\(Self.overridePath).security.\(path)" }, "\(errors)")
    }

    @Test("a PEM key store whose key does not read is refused")
    func badKey() throws {
        let (parsed, diagnostics) = try Self.parse(
            shared: Self.security(
                """
                { "protocol": "SSL", "ssl": { "keyStore": { "certificateChain": \(Self.json(Self.certificate)), "key": "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----" } } }
                """))
        #expect(parsed == nil)
        #expect(Self.errors(diagnostics).contains { $0.path == "\(Self.overridePath).security.ssl.keyStore.key" })
    }
}
