import Foundation
import Logging
import SluiceCore
import SluiceGateway
import Testing

/// The kafka endpoint at deploy time, without a broker: QoS matrix, modes, configuration diagnostics. Nothing here
/// connects: a deployment's Kafka connections open on first use.
@Suite("kafka endpoint deployment")
struct KafkaDeploymentTests {
    static func definition(
        entrypoints: String,
        shared: String =
            #"{ "consumer": { "enabled": true, "topics": ["t"] }, "producer": { "enabled": true, "topics": ["t"] } }"#,
        bootstrap: String = "127.0.0.1:1"
    ) -> String {
        """
        { "id": "kafka-api", "name": "kafka-api", "apiVersion": "1", "definitionVersion": "4.0.0", "type": "message",
          "listeners": [{ "type": "http", "paths": [{ "path": "/k" }], "entrypoints": \(entrypoints) }],
          "endpointGroups": [{ "name": "g", "type": "kafka",
            "endpoints": [{ "name": "e", "type": "kafka", "weight": 1, "inheritConfiguration": false,
              "configuration": { "bootstrapServers": "\(bootstrap)" }, "sharedConfigurationOverride": \(shared) }] }],
          "flows": [], "analytics": { "enabled": false } }
        """
    }

    static func load(_ json: String) -> LoadedDefinition {
        DefinitionLoader(catalog: .gateway).load(data: Data(json.utf8), source: "test.json")
    }

    /// Gravitee's compatibility matrix for Kafka: http-post none/auto; http-get auto/at-most/at-least;
    /// sse all four; websocket none/auto.
    static let matrix: [(entrypoint: String, qos: String, supported: Bool)] = [
        ("http-post", "none", true), ("http-post", "auto", true), ("http-post", "at-most-once", false),
        ("http-post", "at-least-once", false),
        ("http-get", "none", false), ("http-get", "auto", true), ("http-get", "at-most-once", true),
        ("http-get", "at-least-once", true),
        ("sse", "none", true), ("sse", "auto", true), ("sse", "at-most-once", true), ("sse", "at-least-once", true),
        ("websocket", "none", true), ("websocket", "auto", true), ("websocket", "at-most-once", false),
        ("websocket", "at-least-once", false),
    ]

    @Test("every entrypoint × QoS row of the matrix deploys or is refused with UNSUPPORTED_QOS at its path")
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

    @Test("an entrypoint with nothing to do on the endpoint as configured is refused; a WebSocket does what it can")
    func modes() {
        let producerOnly = #"{ "producer": { "enabled": true, "topics": ["t"] } }"#
        let consumerOnly = #"{ "consumer": { "enabled": true, "topics": ["t"] } }"#
        for (entrypoint, shared, deployable) in [
            ("sse", producerOnly, false), ("http-get", producerOnly, false), ("http-post", consumerOnly, false),
            ("websocket", producerOnly, true), ("websocket", consumerOnly, true), ("http-post", producerOnly, true),
            ("sse", consumerOnly, true),
        ] {
            let loaded = Self.load(Self.definition(entrypoints: #"[{ "type": "\#(entrypoint)" }]"#, shared: shared))
            #expect(loaded.isDeployable == deployable, "\(entrypoint) on \(shared): \(loaded.diagnostics)")
            if !deployable {
                #expect(
                    loaded.errors.contains {
                        $0.code == "UNSUPPORTED_MODE" && $0.path == "listeners[0].entrypoints[0].type"
                    })
            }
        }
    }

    @Test("configuration problems are reported with their JSON paths, and the API does not deploy")
    func configurationProblems() {
        let loaded = Self.load(
            Self.definition(
                entrypoints: #"[{ "type": "sse" }]"#,
                shared: #"{ "consumer": { "enabled": true, "topics": ["t"], "autoOffsetReset": "sometimes" } }"#,
                bootstrap: "wrong"))
        #expect(!loaded.isDeployable)
        let paths = Set(loaded.errors.map(\.path))
        #expect(paths.contains("endpointGroups[0].endpoints[0].configuration.bootstrapServers"))
        #expect(paths.contains("endpointGroups[0].endpoints[0].sharedConfigurationOverride.consumer.autoOffsetReset"))
    }

    @Test("deploying and undeploying connects to nothing")
    func deployWithoutBroker() async throws {
        let gateway = Gateway(settings: GatewaySettings(), logger: Logger(label: "test"))
        let definition = try #require(Self.load(Self.definition(entrypoints: Definitions.allEntrypoints)).definition)
        try gateway.registry.deploy(definition, source: "test.json")
        let started = ContinuousClock.now
        await gateway.registry.undeploy(id: "kafka-api")
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(gateway.registry.deployedIDs.isEmpty)
    }
}
