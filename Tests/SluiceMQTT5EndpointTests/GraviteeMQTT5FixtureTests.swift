import Foundation
import GatewayTestSupport
import HummingbirdWSClient
import Logging
import MQTT5TestSupport
import NIOCore
import NIOWebSocket
import SluiceCore
import SluiceGateway
import Synchronization
import Testing

/// Gravitee's fixtures, beside this checkout when it is a worktree of the project's workspace.
private let graviteeCorpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/reference/gravitee-v4")

/// Gravitee's own mqtt5 fixtures (`../shared/reference/gravitee-v4/messages/**`), deployed as they are with only
/// the placeholder broker address replaced: each either deploys and serves against a real mosquitto, or is refused
/// by name (an entrypoint, policy or QoS Sluice does not run, an expression).
@Suite(
    "mqtt5 endpoint: Gravitee's mqtt5 fixtures", .serialized,
    .enabled(
        if: FileManager.default.fileExists(atPath: graviteeCorpus.path),
        "skipped: ../shared/reference/gravitee-v4 is not present beside this checkout"),
    .enabled(if: MQTT5EndpointTestEnvironment.enabled, MQTT5EndpointTestEnvironment.skipReason)
)
struct GraviteeMQTT5FixtureTests {
    static let logger = Logger(label: "mqtt5-fixture-test")

    /// The fixtures whose endpoint is mqtt5, with their text.
    static func mqtt5Fixtures() throws -> [(name: String, text: String)] {
        try DefinitionLoader.definitionFiles(at: graviteeCorpus.appendingPathComponent("messages").path).compactMap {
            file in
            let text = try String(contentsOf: file, encoding: .utf8)
            let value = try JSONValue.parse(json: Data(text.utf8))
            let mqtt = (value["endpointGroups"]?.arrayValue ?? []).contains { $0["type"]?.stringValue == "mqtt5" }
            return mqtt ? (file.lastPathComponent, text) : nil
        }
    }

    /// The fixture with the test broker's address in place of Gravitee's placeholders.
    static func pointed(_ text: String, port: Int) -> String {
        text.replacingOccurrences(of: "\"mqtt5-host\"", with: "\"127.0.0.1\"")
            .replacingOccurrences(of: "\"localhost\"", with: "\"127.0.0.1\"")
            .replacingOccurrences(of: "\"mqtt5-port\"", with: "\(port)")
    }

    @Test("every mqtt5 fixture deploys and serves, or is refused by name")
    func fixtures() async throws {
        let fixtures = try Self.mqtt5Fixtures()
        #expect(fixtures.count >= 15)
        var served: [String] = []
        var deployed: [String] = []
        for (name, text) in fixtures {
            let probe = DefinitionLoader(catalog: .gateway).load(
                data: Data(Self.pointed(text, port: 1883).utf8), source: name)
            guard probe.isDeployable else {
                let named: Set<String> = ["UNSUPPORTED_TYPE", "UNSUPPORTED_QOS", "UNSUPPORTED_EXPRESSION"]
                #expect(
                    !probe.errors.isEmpty && probe.errors.allSatisfy { named.contains($0.code) },
                    "\(name): \(probe.errors)")
                continue
            }
            guard Self.hasHTTPListener(try JSONValue.parse(json: Data(text.utf8))) else {
                // A webhook-only API (a subscription listener): it deploys into a running gateway against the
                // broker; what it delivers to subscriptions is tested in MQTT5WebhookTests.
                try await withMosquitto { broker in
                    try await withMQTT5Gateway([name: Self.pointed(text, port: broker.port)]) { _ in }
                }
                deployed.append(name)
                continue
            }
            try await withMosquitto { broker in
                try await serve(name, definition: Self.pointed(text, port: broker.port), broker: broker)
            }
            served.append(name)
        }
        #expect(Set(deployed) == ["webhook-entrypoint-mqtt5-endpoint.json"], "deployed only: \(deployed)")
        #expect(
            Set(served) == [
                "http-post-entrypoint-mqtt5-endpoint.json", "http-post-entrypoint-mqtt5-endpoint-retained.json",
                "http-post-entrypoint-mqtt5-endpoint-attribute.json", "mqtt5-endpoint-failure.json",
                "mqtt5-endpoint-publish.json",
                "websocket-entrypoint-mqtt5-endpoint-publisher.json",
            ], "served: \(served)")
    }

    /// Whether the definition has an http listener, whose entrypoints `serve` sends messages through.
    static func hasHTTPListener(_ definition: JSONValue) -> Bool {
        (definition["listeners"]?.arrayValue ?? []).contains { $0["type"]?.stringValue == "http" }
    }

    /// Whether a flow of the definition assigns the mqtt5 topic attribute.
    static func assignsTopic(_ definition: JSONValue) -> Bool {
        (definition["flows"]?.arrayValue ?? []).contains { flow in
            (flow["request"]?.arrayValue ?? []).contains { step in
                (step["configuration"]?["attributes"]?.arrayValue ?? []).contains {
                    $0["name"]?.stringValue == "gravitee.attribute.mqtt5.topic"
                }
            }
        }
    }

    /// Deploys one fixture and sends one message through each of its entrypoints; paho checks the broker side.
    func serve(_ name: String, definition: String, broker: MosquittoBroker) async throws {
        let value = try JSONValue.parse(json: Data(definition.utf8))
        let listener = try #require(value["listeners"]?.arrayValue?.first { $0["type"]?.stringValue == "http" })
        let path = try #require(listener["paths"]?.arrayValue?.first?["path"]?.stringValue)
        let endpoint = try #require(value["endpointGroups"]?.arrayValue?.first?["endpoints"]?.arrayValue?.first)
        let host = endpoint["configuration"]?["serverHost"]?.stringValue
        let shared = endpoint["sharedConfigurationOverride"]
        let producerTopic =
            shared?["producer"]?["enabled"]?.boolValue == true
            ? shared?["producer"]?["topic"]?.stringValue : nil
        let retained = shared?["producer"]?["retained"]?.boolValue ?? false
        let marker = "from \(name)"
        let paho = try PahoOracle()
        try await withMQTT5Gateway([name: definition]) { gateway in
            for entrypoint in listener["entrypoints"]?.arrayValue ?? [] {
                if host != "127.0.0.1" {
                    // The failure fixture's broker ("wrong") cannot be reached: every entrypoint says so.
                    let answer = try await httpCall(
                        .GET, gateway.baseURL + path, headers: [("Accept", "application/json")])
                    #expect(answer.status == 503, "\(name): \(answer.body)")
                    #expect(answer.json?["key"]?.stringValue == "MQTT5_UNAVAILABLE", "\(name): \(answer.body)")
                    return
                }
                let topic = try #require(producerTopic, "\(name) publishes")
                let subscriber = try await paho.subscribe(port: broker.port, topic: topic, qos: .atLeastOnce, count: 1)
                switch entrypoint["type"]?.stringValue {
                case "http-post":
                    let response = try await httpCall(.POST, gateway.baseURL + path, body: marker)
                    #expect(response.status == 202, "\(name): \(response.body)")
                case "websocket":
                    _ = try await within(.seconds(30), "\(name) over WebSocket") {
                        try await WebSocketClient.connect(
                            url: "ws://127.0.0.1:\(gateway.port)\(path)", logger: Self.logger
                        ) { _, outbound, _ in
                            try await outbound.write(.text(marker))
                            try await Task.sleep(for: .milliseconds(300))
                            try await outbound.close(.normalClosure, reason: nil)
                        }
                    }
                case "http-get", "sse":
                    // Subscribing entrypoints beside a publishing one: what they deliver is tested in
                    // MQTT5SubscribeTests.
                    await subscriber.cancel()
                    continue
                default:
                    Issue.record("\(name): unexpected entrypoint \(entrypoint)")
                    await subscriber.cancel()
                    continue
                }
                let messages = try await subscriber.messages()
                #expect(messages.first?.payloadBytes == Array(marker.utf8), "\(name)")
                // A flow that assigns `gravitee.attribute.mqtt5.topic` sends the message to the topic it names.
                if Self.assignsTopic(value), entrypoint["type"]?.stringValue == "http-post" {
                    let overridden = "sluice/override-\(UInt32.random(in: 0...UInt32.max))"
                    let other = try await paho.subscribe(
                        port: broker.port, topic: overridden, qos: .atLeastOnce, count: 1)
                    let response = try await httpCall(
                        .POST, gateway.baseURL + path, headers: [("X-New-Topic", overridden)], body: marker + " moved")
                    #expect(response.status == 202, "\(name): \(response.body)")
                    let moved = try await other.messages()
                    #expect(moved.first?.payloadBytes == Array((marker + " moved").utf8), "\(name)")
                }
                // A live subscriber sees RETAIN cleared (without Retain As Published); the broker kept the message
                // when the fixture asks for retained, which a later subscriber gets.
                if retained {
                    let late = try await paho.subscribe(port: broker.port, topic: topic, qos: .atLeastOnce, count: 1)
                    let kept = try await late.messages()
                    #expect(kept.first?.retain == true && kept.first?.payloadBytes == Array(marker.utf8), "\(name)")
                }
            }
        }
    }
}
