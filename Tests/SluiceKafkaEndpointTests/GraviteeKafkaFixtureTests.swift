import Foundation
import GatewayTestSupport
import KafkaTestSupport
import SluiceCore
import SluiceGateway
import Testing

/// Gravitee's fixtures, beside this checkout when it is a worktree of the project's workspace.
private let graviteeCorpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/reference/gravitee-v4")

/// Gravitee's own kafka fixtures (`../shared/reference/gravitee-v4/messages/**`), deployed as they are with only the
/// placeholder broker address replaced, each served against a real broker.
@Suite(
    "kafka endpoint: Gravitee's kafka fixtures against a real broker", .serialized,
    .enabled(
        if: FileManager.default.fileExists(atPath: graviteeCorpus.path),
        "skipped: ../shared/reference/gravitee-v4 is not present beside this checkout")
)
struct GraviteeKafkaFixtureTests {
    static let corpus = graviteeCorpus
    let oracle = LibrdkafkaOracle()

    /// The fixtures whose endpoint is kafka, with their text.
    static func kafkaFixtures() throws -> [(name: String, text: String)] {
        try DefinitionLoader.definitionFiles(at: corpus.appendingPathComponent("messages").path).compactMap { file in
            let text = try String(contentsOf: file, encoding: .utf8)
            let value = try JSONValue.parse(json: Data(text.utf8))
            let kafka = (value["endpointGroups"]?.arrayValue ?? []).contains { $0["type"]?.stringValue == "kafka" }
            return kafka ? (file.lastPathComponent, text) : nil
        }
    }

    @Test("every kafka fixture that names only supported types deploys and serves; the others are refused by name")
    func fixtures() async throws {
        let fixtures = try Self.kafkaFixtures()
        #expect(fixtures.count >= 20)
        var served: [String] = []
        var pushOnly: [String] = []
        for (name, text) in fixtures {
            let probe = DefinitionLoader(catalog: .gateway).load(
                data: Data(text.replacingOccurrences(of: "\"bootstrap-server\"", with: "\"127.0.0.1:9092\"").utf8),
                source: name)
            guard probe.isDeployable else {
                #expect(!probe.errors.isEmpty, "\(name)")
                continue
            }
            let listeners = try JSONValue.parse(json: Data(text.utf8))["listeners"]?.arrayValue ?? []
            guard listeners.contains(where: { $0["type"]?.stringValue == "http" }) else {
                // A subscription listener (webhook) takes no HTTP request: its delivery is tested with webhook
                // subscriptions (KafkaWebhookTests).
                #expect(listeners.contains { $0["type"]?.stringValue == "subscription" }, "\(name)")
                pushOnly.append(name)
                continue
            }
            try await withTansuBroker { broker in
                let definition = text.replacingOccurrences(of: "\"bootstrap-server\"", with: "\"\(broker.bootstrap)\"")
                try await serve(name, definition: definition, broker: broker)
            }
            served.append(name)
        }
        #expect(
            Set(served) == [
                "http-get-entrypoint-kafka-endpoint-at-least-once.json",
                "http-get-entrypoint-kafka-endpoint-at-most-once.json",
                "http-get-entrypoint-kafka-endpoint-override-topic.json",
                "http-get-entrypoint-kafka-endpoint-with-tenants.json", "http-get-entrypoint-kafka-endpoint.json",
                "http-post-entrypoint-kafka-endpoint-override-topic.json", "http-post-entrypoint-kafka-endpoint.json",
                "sse-entrypoint-kafka-endpoint.json",
                "websocket-entrypoint-kafka-endpoint-publisher-subscriber.json",
                "websocket-entrypoint-kafka-endpoint-publisher.json",
                "websocket-entrypoint-kafka-endpoint-subscriber-none.json",
                "websocket-entrypoint-kafka-endpoint-subscriber.json",
            ], "served: \(served)")
        #expect(pushOnly == ["webhook-entrypoint-kafka-endpoint.json"])
    }

    /// Deploys one fixture and sends one message through each of its entrypoints.
    func serve(_ name: String, definition: String, broker: TansuBroker) async throws {
        let value = try JSONValue.parse(json: Data(definition.utf8))
        let listener = try #require(value["listeners"]?.arrayValue?.first { $0["type"]?.stringValue == "http" })
        let path = try #require(listener["paths"]?.arrayValue?.first?["path"]?.stringValue)
        var consumerTopics: Set<String> = []
        var producerTopics: Set<String> = []
        for endpoint in value["endpointGroups"]?.arrayValue?.first?["endpoints"]?.arrayValue ?? [] {
            let shared = endpoint["sharedConfigurationOverride"]
            for topic in shared?["consumer"]?["topics"]?.arrayValue ?? [] { consumerTopics.insert(topic.stringValue!) }
            for topic in shared?["producer"]?["topics"]?.arrayValue ?? [] { producerTopics.insert(topic.stringValue!) }
        }
        for topic in consumerTopics.union(producerTopics) {
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1, existOK: true)
        }
        let marker = "from \(name)"
        for topic in consumerTopics {
            _ = try await oracle.produce(
                bootstrap: broker.bootstrap, topic: topic, records: [OracleRecord(key: nil, value: marker)])
        }
        try await withKafkaGateway([name: definition]) { gateway in
            for entrypoint in listener["entrypoints"]?.arrayValue ?? [] {
                switch entrypoint["type"]?.stringValue {
                case "http-post":
                    let response = try await httpCall(.POST, gateway.baseURL + path, body: marker)
                    #expect(response.status == 202, "\(name): \(response.body)")
                    let records = try await oracle.consume(
                        bootstrap: broker.bootstrap, topic: producerTopics.first!, count: 1)
                    #expect(records.first?.value == Array(marker.utf8), "\(name)")
                case "http-get":
                    let answer = try await poll(gateway.baseURL + path)
                    #expect(answer.status == 200, "\(name): \(answer.body)")
                    #expect(answer.items.map(\.content) == [marker], "\(name): \(answer.body)")
                case "sse":
                    let stream = try await RawSSEClient.open(port: gateway.port, path: path)
                    let events = try await stream.messages(1)
                    #expect(events.first?.data == marker, "\(name)")
                    await stream.close()
                case "websocket":
                    let configuration = entrypoint["configuration"]
                    let subscribes =
                        configuration?["subscriber"]?["enabled"]?.boolValue ?? true && !consumerTopics.isEmpty
                    let publishes =
                        configuration?["publisher"]?["enabled"]?.boolValue ?? true && !producerTopics.isEmpty
                    let received = try await within(.seconds(60), "\(name) over WebSocket") {
                        try await TestWebSocket.session(port: gateway.port, path: path) { socket in
                            var received: [TestWebSocket.Message] = []
                            if subscribes, case .message(let message)? = try await socket.next() {
                                received.append(message)
                            }
                            if publishes {
                                try await socket.send(.text("back from \(name)"))
                                if subscribes, case .message(let message)? = try await socket.next() {
                                    received.append(message)
                                }
                            }
                            try await socket.close()
                            return received
                        }
                    }
                    var expected: [TestWebSocket.Message] = []
                    if subscribes { expected.append(.text(marker)) }
                    if subscribes && publishes { expected.append(.text("back from \(name)")) }
                    #expect(received == expected, "\(name)")
                    if publishes {
                        let records = try await oracle.consume(
                            bootstrap: broker.bootstrap, topic: producerTopics.first!, count: subscribes ? 2 : 1)
                        #expect(records.last?.value == Array("back from \(name)".utf8), "\(name)")
                    }
                default:
                    Issue.record("\(name): unexpected entrypoint \(entrypoint)")
                }
            }
            if definition.contains("X-Topic-Override-Request-Level") {
                try await overrideTopics(name, path: path, listener: listener, gateway: gateway, broker: broker)
            }
        }
    }

    /// The override-topic fixtures' flows: below the API's path, a request header names the topic instead of the
    /// endpoint's, at the request level (http-post and http-get) and at the message level (http-post's publish flow).
    func overrideTopics(
        _ name: String, path: String, listener: JSONValue, gateway: KafkaTestGateway, broker: TansuBroker
    ) async throws {
        let entrypoints = (listener["entrypoints"]?.arrayValue ?? []).compactMap { $0["type"]?.stringValue }
        for level in ["Request", "Message"] {
            let topic = "override-\(level.lowercased())-\(UUID().uuidString.prefix(8))"
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1, existOK: true)
            let marker = "\(level) level override from \(name)"
            let header = ("X-Topic-Override-\(level)-Level", topic)
            if entrypoints.contains("http-post") {
                let response = try await httpCall(
                    .POST, gateway.baseURL + path + "/elsewhere", headers: [header], body: marker)
                #expect(response.status == 202, "\(name): \(response.body)")
                let records = try await oracle.consume(bootstrap: broker.bootstrap, topic: topic, count: 1)
                #expect(records.first?.value == Array(marker.utf8), "\(name) \(level)")
            }
            if entrypoints.contains("http-get"), level == "Request" {
                _ = try await oracle.produce(
                    bootstrap: broker.bootstrap, topic: topic, records: [OracleRecord(key: nil, value: marker)])
                let answer = try await poll(gateway.baseURL + path + "/elsewhere", headers: [header])
                #expect(answer.status == 200, "\(name): \(answer.body)")
                #expect(answer.items.map(\.content) == [marker], "\(name): \(answer.body)")
            }
        }
    }
}
