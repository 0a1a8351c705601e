import Foundation
import GatewayTestSupport
import KafkaTestSupport
import SluiceGateway

// The harness of the kafka endpoint suites: the shared gateway harness (GatewayTestSupport) serving definitions
// whose kafka endpoint points at the test's tansu broker.

/// The kafka suites' gateway.
typealias KafkaTestGateway = TestGateway

/// Runs `body` against a fresh gateway and always stops it.
func withKafkaGateway<T>(
    _ definitions: [String: String],
    configure: @Sendable (inout GatewaySettings) -> Void = { _ in },
    isolation: isolated (any Actor)? = #isolation,
    _ body: (KafkaTestGateway) async throws -> T
) async throws -> T {
    try await withTestGateway(definitions, configure: configure, isolation: isolation, body)
}

/// A Gravitee v4 definition of a message API on `path` whose endpoint is kafka.
enum KafkaAPI {
    static func definition(
        id: String, path: String, bootstrap: String, entrypoints: String, shared: String
    ) -> String {
        """
        { "id": "\(id)", "name": "\(id)", "apiVersion": "1.0", "definitionVersion": "4.0.0", "type": "message",
          "listeners": [{ "type": "http", "paths": [{ "path": "\(path)" }], "entrypoints": \(entrypoints) }],
          "endpointGroups": [{ "name": "default-group", "type": "kafka",
            "endpoints": [{ "name": "default", "type": "kafka", "weight": 1, "inheritConfiguration": false,
              "configuration": { "bootstrapServers": "\(bootstrap)" }, "sharedConfigurationOverride": \(shared) }] }],
          "flows": [], "analytics": { "enabled": false } }
        """
    }

    static func consumer(
        _ topic: String, reset: String = "earliest", encode: Bool = true, extra: String = ""
    ) -> String {
        #""consumer": { "enabled": true, "topics": ["\#(topic)"], "autoOffsetReset": "\#(reset)", "encodeMessageId": \#(encode)\#(extra) }"#
    }

    static func producer(_ topic: String) -> String {
        #""producer": { "enabled": true, "topics": ["\#(topic)"] }"#
    }

    static func entrypoint(_ type: String, qos: String, configuration: String = "{}") -> String {
        #"{ "type": "\#(type)", "qos": "\#(qos)", "configuration": \#(configuration) }"#
    }
}

/// A fresh topic name per test.
func uniqueTopic(_ prefix: String) -> String {
    "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
}

extension LibrdkafkaOracle {
    /// Produces records one at a time (tansu answers ListOffsets latest wrongly for batches of several records),
    /// each to its given partition.
    func produceEach(bootstrap: String, topic: String, records: [OracleRecord]) async throws {
        for record in records {
            _ = try await produce(bootstrap: bootstrap, topic: topic, records: [record])
        }
    }
}
