import Foundation
import GatewayTestSupport
import MQTT5
import MQTT5TestSupport
import SluiceGateway
import Testing

// The harness of the mqtt5 endpoint suites: the shared gateway harness (GatewayTestSupport) serving definitions
// whose mqtt5 endpoint points at the test's mosquitto.

/// Runs `body` against a fresh gateway and always stops it.
func withMQTT5Gateway<T>(
    _ definitions: [String: String],
    nodeID: String? = nil,
    configure: @Sendable (inout GatewaySettings) -> Void = { _ in },
    isolation: isolated (any Actor)? = #isolation,
    _ body: (TestGateway) async throws -> T
) async throws -> T {
    try await withTestGateway(definitions, nodeID: nodeID, configure: configure, isolation: isolation, body)
}

/// A Gravitee v4 definition of a message API on `path` whose endpoint is mqtt5.
enum MQTT5API {
    static func definition(
        id: String, path: String, port: Int, entrypoints: String, shared: String
    ) -> String {
        """
        { "id": "\(id)", "name": "\(id)", "apiVersion": "1.0", "definitionVersion": "4.0.0", "type": "message",
          "listeners": [{ "type": "http", "paths": [{ "path": "\(path)" }], "entrypoints": \(entrypoints) }],
          "endpointGroups": [{ "name": "default-group", "type": "mqtt5",
            "endpoints": [{ "name": "default", "type": "mqtt5", "weight": 1, "inheritConfiguration": false,
              "configuration": { "serverHost": "127.0.0.1", "serverPort": \(port) },
              "sharedConfigurationOverride": \(shared) }] }],
          "flows": [], "analytics": { "enabled": false } }
        """
    }

    static func consumer(_ topic: String) -> String {
        #""consumer": { "enabled": true, "topic": "\#(topic)" }"#
    }

    static func producer(_ topic: String, extra: String = "") -> String {
        #""producer": { "enabled": true, "topic": "\#(topic)"\#(extra) }"#
    }

    static func entrypoint(_ type: String, qos: String, configuration: String = "{}") -> String {
        #"{ "type": "\#(type)", "qos": "\#(qos)", "configuration": \#(configuration) }"#
    }
}

/// Whether the broker suites can run here (mosquitto and paho-mqtt), and why not.
enum MQTT5EndpointTestEnvironment {
    static var enabled: Bool { PahoEnvironment.shouldRun }
    static var skipReason: Comment { Comment(rawValue: PahoEnvironment.skipReason) }
}

/// A fresh topic per test.
func uniqueTopic(_ prefix: String) -> String {
    "sluice/\(prefix)/\(UUID().uuidString.prefix(8).lowercased())"
}

/// A message for paho to publish: UTF-8 content and user properties.
func pahoMessage(
    topic: String, _ content: String, userProperties: [(String, String)] = [], qos: Int = 1
) -> PahoMessage {
    var properties = MQTTProperties()
    properties.userProperties = userProperties.map { MQTTUserProperty(name: $0.0, value: $0.1) }
    return PahoMessage(
        topic: topic, payload: Array(content.utf8), qos: qos == 0 ? .atMostOnce : .atLeastOnce,
        properties: properties)
}
