import Foundation
import GatewayTestSupport
import Logging
import MQTT5TestSupport
import SluiceCore
import SluiceEndpoints
import SluiceGateway
import Testing

/// The mqtt5 endpoint at deploy time, without a broker: Gravitee's QoS matrix for MQTT, modes, configuration
/// diagnostics at their JSON paths. Nothing here connects: a deployment's MQTT connections open on first use.
@Suite("mqtt5 endpoint deployment")
struct MQTT5DeploymentTests {
    static func definition(
        entrypoints: String,
        shared: String =
            #"{ "consumer": { "enabled": true, "topic": "t/#" }, "producer": { "enabled": true, "topic": "t" } }"#,
        configuration: String = #"{ "serverHost": "127.0.0.1", "serverPort": 1 }"#
    ) -> String {
        """
        { "id": "mqtt-api", "name": "mqtt-api", "apiVersion": "1", "definitionVersion": "4.0.0", "type": "message",
          "listeners": [{ "type": "http", "paths": [{ "path": "/m" }], "entrypoints": \(entrypoints) }],
          "endpointGroups": [{ "name": "g", "type": "mqtt5",
            "endpoints": [{ "name": "e", "type": "mqtt5", "weight": 1, "inheritConfiguration": false,
              "configuration": \(configuration), "sharedConfigurationOverride": \(shared) }] }],
          "flows": [], "analytics": { "enabled": false } }
        """
    }

    static func load(_ json: String) -> LoadedDefinition {
        DefinitionLoader(catalog: .gateway).load(data: Data(json.utf8), source: "test.json")
    }

    /// Gravitee's compatibility matrix for MQTT 5: http-post none/auto; http-get auto; sse none/auto; websocket
    /// none/auto.
    static let matrix: [(entrypoint: String, qos: String, supported: Bool)] = [
        ("http-post", "none", true), ("http-post", "auto", true), ("http-post", "at-most-once", false),
        ("http-post", "at-least-once", false),
        ("http-get", "none", false), ("http-get", "auto", true), ("http-get", "at-most-once", false),
        ("http-get", "at-least-once", false),
        ("sse", "none", true), ("sse", "auto", true), ("sse", "at-most-once", false), ("sse", "at-least-once", false),
        ("websocket", "none", true), ("websocket", "auto", true), ("websocket", "at-most-once", false),
        ("websocket", "at-least-once", false),
    ]

    @Test("a webhook entrypoint deploys on mqtt5 with every QoS, at-least-once and at-most-once included")
    func webhookQoS() throws {
        for qos in ["none", "auto", "at-most-once", "at-least-once"] {
            let loaded = Self.load(MQTT5WebhookTests.api(port: 1, topic: "t/#", qos: qos))
            #expect(loaded.isDeployable, "\(qos): \(loaded.diagnostics)")
        }
    }

    @Test("every entrypoint × QoS row of the MQTT matrix deploys or is refused with UNSUPPORTED_QOS at its path")
    func qosMatrix() throws {
        for row in Self.matrix {
            let loaded = Self.load(
                Self.definition(entrypoints: #"[{ "type": "\#(row.entrypoint)", "qos": "\#(row.qos)" }]"#))
            if row.supported {
                #expect(loaded.isDeployable, "\(row): \(loaded.diagnostics)")
                let gateway = Gateway(settings: GatewaySettings(), logger: Logger(label: "test"))
                let definition = try #require(loaded.definition)
                #expect(throws: Never.self) { try gateway.registry.deploy(definition, source: "test.json") }
            } else {
                #expect(!loaded.isDeployable, "\(row) deployed")
                #expect(
                    loaded.errors.contains {
                        $0.code == "UNSUPPORTED_QOS" && $0.path == "listeners[0].entrypoints[0].qos"
                    },
                    "\(row): \(loaded.errors)")
            }
        }
    }

    @Test("an entrypoint the endpoint as configured cannot serve is refused with UNSUPPORTED_MODE")
    func modes() {
        let producerOnly = #"{ "producer": { "enabled": true, "topic": "t" } }"#
        let sse = Self.load(Self.definition(entrypoints: #"[{ "type": "sse", "qos": "auto" }]"#, shared: producerOnly))
        #expect(sse.errors.contains { $0.code == "UNSUPPORTED_MODE" }, "\(sse.errors)")
        let post = Self.load(
            Self.definition(entrypoints: #"[{ "type": "http-post", "qos": "auto" }]"#, shared: producerOnly))
        #expect(post.isDeployable, "\(post.diagnostics)")
    }

    /// Bad configurations and the diagnostic each must give, at its JSON path.
    static let badConfigurations: [(configuration: String, shared: String, path: String, fragment: String)] = [
        (
            #"{ "serverPort": 1883 }"#, #"{ "producer": { "enabled": true, "topic": "t" } }"#,
            "endpointGroups[0].endpoints[0].configuration.serverHost", "required"
        ),
        (
            #"{ "serverHost": "h" }"#, #"{ "producer": { "enabled": true, "topic": "t" } }"#,
            "endpointGroups[0].endpoints[0].configuration.serverPort", "required"
        ),
        (
            #"{ "serverHost": "h", "serverPort": "mqtt5-port" }"#,
            #"{ "producer": { "enabled": true, "topic": "t" } }"#,
            "endpointGroups[0].endpoints[0].configuration.serverPort", "between 1 and 65535"
        ),
        (
            #"{ "serverHost": "h", "serverPort": 70000 }"#, #"{ "producer": { "enabled": true, "topic": "t" } }"#,
            "endpointGroups[0].endpoints[0].configuration.serverPort", "between 1 and 65535"
        ),
        (
            #"{ "serverHost": "{#secrets.get('/vault/host')}", "serverPort": 1 }"#,
            #"{ "producer": { "enabled": true, "topic": "t" } }"#,
            "endpointGroups[0].endpoints[0].configuration.serverHost", "expressions"
        ),
        (
            #"{ "serverHost": "h", "serverPort": 1 }"#, #"{ "consumer": { "enabled": true } }"#,
            "endpointGroups[0].endpoints[0].sharedConfigurationOverride.consumer.topic", "required"
        ),
        (
            #"{ "serverHost": "h", "serverPort": 1 }"#, #"{ "consumer": { "enabled": true, "topic": "a/#/b" } }"#,
            "endpointGroups[0].endpoints[0].sharedConfigurationOverride.consumer.topic", "Topic Filter"
        ),
        (
            #"{ "serverHost": "h", "serverPort": 1 }"#, #"{ "consumer": { "enabled": true, "topic": "$share/g/t" } }"#,
            "endpointGroups[0].endpoints[0].sharedConfigurationOverride.consumer.topic", "$share"
        ),
        (
            #"{ "serverHost": "h", "serverPort": 1 }"#, #"{ "producer": { "enabled": true, "topic": "a/+" } }"#,
            "endpointGroups[0].endpoints[0].sharedConfigurationOverride.producer.topic", "Topic Name"
        ),
        (
            #"{ "serverHost": "h", "serverPort": 1 }"#, #"{ "producer": { "enabled": true } }"#,
            "endpointGroups[0].endpoints[0].sharedConfigurationOverride.producer.topic", "required"
        ),
        (
            #"{ "serverHost": "h", "serverPort": 1 }"#,
            #"{ "producer": { "enabled": true, "topic": "t", "messageExpiryInterval": "soon" } }"#,
            "endpointGroups[0].endpoints[0].sharedConfigurationOverride.producer.messageExpiryInterval", "integer"
        ),
        (
            #"{ "serverHost": "h", "serverPort": 1 }"#,
            #"{ "producer": { "enabled": true, "topic": "t" }, "reconnectAttempts": 11 }"#,
            "endpointGroups[0].endpoints[0].sharedConfigurationOverride.reconnectAttempts", "between 0 and 10"
        ),
        (
            #"{ "serverHost": "h", "serverPort": 1 }"#, #"{ "consumer": { "enabled": false } }"#,
            "endpointGroups[0].endpoints[0].sharedConfigurationOverride", "enable the consumer or the producer"
        ),
        (
            #"{ "serverHost": "h", "serverPort": 1 }"#,
            #"{ "producer": { "enabled": true, "topic": "t" }, "security": { "auth": { "password": "p" } } }"#,
            "endpointGroups[0].endpoints[0].sharedConfigurationOverride.security.auth.password", "username"
        ),
        (
            #"{ "serverHost": "h", "serverPort": 1 }"#,
            #"{ "producer": { "enabled": true, "topic": "t" }, "security": { "ssl": { "trustStore": { "type": "JKS", "path": "/x.jks" } } } }"#,
            "endpointGroups[0].endpoints[0].sharedConfigurationOverride.security.ssl.trustStore.type", "not supported"
        ),
        (
            #"{ "serverHost": "h", "serverPort": 1 }"#,
            #"{ "producer": { "enabled": true, "topic": "t" }, "security": { "ssl": { "trustStore": { "type": "PEM", "content": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----" } } } }"#,
            "endpointGroups[0].endpoints[0].sharedConfigurationOverride.security.ssl.trustStore.content",
            "no PEM certificate"
        ),
        (
            #"{ "serverHost": "h", "serverPort": 1 }"#,
            #"{ "producer": { "enabled": true, "topic": "t" }, "security": { "ssl": { "trustStore": { "type": "PEM", "path": "/nonexistent/ca.pem" } } } }"#,
            "endpointGroups[0].endpoints[0].sharedConfigurationOverride.security.ssl.trustStore.path",
            "not a readable file"
        ),
    ]

    @Test("bad configurations are refused at deploy with a diagnostic at their JSON path")
    func badConfigurations() {
        for bad in Self.badConfigurations {
            let loaded = Self.load(
                Self.definition(
                    entrypoints: #"[{ "type": "http-post", "qos": "auto" }]"#, shared: bad.shared,
                    configuration: bad.configuration))
            #expect(!loaded.isDeployable, "\(bad.shared) deployed")
            #expect(
                loaded.errors.contains { $0.path == bad.path && $0.message.contains(bad.fragment) },
                "\(bad.path): \(loaded.errors)")
        }
    }

    @Test("a full configuration is read with Gravitee's names and defaults")
    func fullConfiguration() throws {
        let certificate = try String(contentsOf: Self.testCertificate, encoding: .utf8)
        let encoded = Data(certificate.utf8).base64EncodedString()
        let json = Self.definition(
            entrypoints: #"[{ "type": "http-post", "qos": "auto" }]"#,
            shared: """
                { "sessionExpiryInterval": -1, "reconnectAttempts": 5,
                  "security": { "auth": { "username": "gw", "password": "secret" },
                                "ssl": { "hostnameVerifier": false, "trustStore": { "type": "PEM", "content": "\(encoded)" } } },
                  "consumer": { "enabled": true, "topic": "sensors/+/temperature" },
                  "producer": { "enabled": true, "topic": "commands", "retained": true, "responseTopic": "replies",
                                "messageExpiryInterval": 60 } }
                """,
            configuration: #"{ "serverHost": "broker.example", "serverPort": "8883" }"#)
        let loaded = Self.load(json)
        #expect(loaded.isDeployable, "\(loaded.diagnostics)")
        let definition = try #require(loaded.definition)
        var diagnostics = DiagnosticCollector()
        let group = try #require(definition.endpointGroups.first)
        let configuration = try #require(
            MQTT5EndpointConfiguration.parse(endpoint: group.endpoints[0], group: group, diagnostics: &diagnostics))
        #expect(configuration.serverHost == "broker.example")
        #expect(configuration.serverPort == 8883)
        #expect(configuration.sessionExpiryInterval == UInt32.max)
        #expect(configuration.reconnectAttempts == 5)
        #expect(configuration.userName == "gw")
        #expect(configuration.password == "secret")
        #expect(configuration.tls != nil)
        #expect(configuration.consumer.topic == "sensors/+/temperature")
        #expect(configuration.producer.retained)
        #expect(configuration.producer.responseTopic == "replies")
        #expect(configuration.producer.messageExpiryInterval == 60)
        #expect(configuration.modes == [.publish, .subscribe])

        // Defaults: Gravitee's 24 h session, no retain, no expiry.
        let minimal = Self.load(Self.definition(entrypoints: #"[{ "type": "http-post", "qos": "auto" }]"#))
        let minimalGroup = try #require(minimal.definition?.endpointGroups.first)
        let defaults = try #require(
            MQTT5EndpointConfiguration.parse(
                endpoint: minimalGroup.endpoints[0], group: minimalGroup, diagnostics: &diagnostics))
        #expect(defaults.sessionExpiryInterval == 86_400)
        #expect(defaults.producer.retained == false)
        #expect(defaults.producer.messageExpiryInterval == nil)
        #expect(defaults.tls == nil)

        // The Kafka endpoint's names for the same stores are read too: one `ssl` block serves both.
        let pem = certificate.replacingOccurrences(of: "\n", with: "\\n")
        let kafkaStyle = Self.load(
            Self.definition(
                entrypoints: #"[{ "type": "http-post", "qos": "auto" }]"#,
                shared: """
                    { "producer": { "enabled": true, "topic": "t" },
                      "security": { "ssl": { "trustStore": { "type": "PEM", "certificates": "\(pem)" } } } }
                    """))
        #expect(kafkaStyle.isDeployable, "\(kafkaStyle.diagnostics)")
        #expect(kafkaStyle.diagnostics.isEmpty, "no unknown-field warning: \(kafkaStyle.diagnostics)")
    }

    /// A certificate the test writes once (openssl), for the PEM trust store case.
    static let testCertificate: URL = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-mqtt5-cert")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificate = directory.appendingPathComponent("ca.pem")
        if !FileManager.default.fileExists(atPath: certificate.path) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=sluice-test",
                "-keyout", directory.appendingPathComponent("ca.key").path, "-out", certificate.path,
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try? process.run()
            process.waitUntilExit()
        }
        return certificate
    }()
}
