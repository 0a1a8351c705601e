import Foundation
import GatewayTestSupport
import KafkaTestSupport
import Testing

/// Webhook subscriptions over a real broker (tansu): the subscription's consumer group commits only what the
/// callback acknowledged, so a callback that goes away and a gateway that restarts lose nothing.
@Suite("kafka endpoint: webhook subscriptions", .serialized)
struct KafkaWebhookTests {
    let oracle = LibrdkafkaOracle()

    static func api(_ broker: TansuBroker, topic: String, qos: String) -> String {
        """
        { "id": "hooks", "name": "hooks", "definitionVersion": "4.0.0", "type": "message",
          "listeners": [\(WebhookFixtures.listener(qos: qos))],
          "endpointGroups": [{ "name": "default-group", "type": "kafka",
            "endpoints": [{ "name": "default", "type": "kafka", "inheritConfiguration": false,
              "configuration": { "bootstrapServers": "\(broker.bootstrap)" },
              "sharedConfigurationOverride": { \(KafkaAPI.consumer(topic)) } }] }],
          "plans": [{ "id": "push", "name": "Push", "mode": "PUSH", "status": "PUBLISHED" }] }
        """
    }

    static func access(callback: String) -> String {
        WebhookFixtures.access([WebhookFixtures.subscription("partner-hook", callback: callback)])
    }

    @Test("at-least-once: a callback that goes away while the gateway restarts loses nothing; duplicates counted")
    func atLeastOnceAcrossRestarts() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("hooks")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            try await oracle.produceEach(
                bootstrap: broker.bootstrap, topic: topic,
                records: (0..<5).map { OracleRecord(key: nil, value: "m\($0)", partition: 0) })
            let callback = try await CallbackServer.start()
            let port = callback.port
            let definitions = [
                "hooks.json": Self.api(broker, topic: topic, qos: "at-least-once"),
                "hooks.access.yaml": Self.access(callback: callback.url),
            ]
            // A first gateway delivers m0…m4, then the callback goes away while m5…m9 arrive.
            try await withKafkaGateway(definitions) { gateway in
                try await callback.wait(.seconds(60), "m0…m4") { $0.filter { $0.status == 200 }.count >= 5 }
                await callback.stop()
                try await oracle.produceEach(
                    bootstrap: broker.bootstrap, topic: topic,
                    records: (5..<10).map { OracleRecord(key: nil, value: "m\($0)", partition: 0) })
                let failed = try await within(.seconds(30), "FAILURE") {
                    while gateway.gateway.webhooks.delivery(subscription: "partner-hook")?.status != .failure {
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    return true
                }
                #expect(failed)
            }
            #expect(callback.acknowledgedBodies == (0..<5).map { "m\($0)" })
            // The callback comes back; a new gateway (nothing kept in memory) resumes from the group's commits.
            let back = try await CallbackServer.start(port: port)
            try await withKafkaGateway(definitions) { _ in
                try await back.wait(.seconds(60), "m5…m9") { received in
                    Set(received.filter { $0.status == 200 }.map(\.body)).isSuperset(of: (5..<10).map { "m\($0)" })
                }
                try await Task.sleep(for: .milliseconds(500))
            }
            await back.stop()
            let all = callback.acknowledgedBodies + back.acknowledgedBodies
            #expect(Set(all) == Set((0..<10).map { "m\($0)" }), "none lost")
            let duplicates = all.count - Set(all).count
            // Only what the first gateway had in hand but not acknowledged may come twice; m0…m4 were committed.
            #expect(!back.acknowledgedBodies.contains("m0"), "committed messages are not delivered again")
            #expect(duplicates == 0, "duplicates: \(duplicates)")
            #expect(back.acknowledgedBodies == (5..<10).map { "m\($0)" }, "in order")
        }
    }

    @Test("two gateways share one subscription's group: each message is delivered once between them")
    func twoNodesShareTheWork() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("hooks-shared")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 2)
            let callback = try await CallbackServer.start()
            defer { Task { await callback.stop() } }
            let definitions = [
                "hooks.json": Self.api(broker, topic: topic, qos: "at-least-once"),
                "hooks.access.yaml": Self.access(callback: callback.url),
            ]
            try await withKafkaGateway(definitions) { first in
                try await withKafkaGateway(definitions) { second in
                    // Both nodes join the subscription's group before anything is produced.
                    try await Task.sleep(for: .seconds(6))
                    try await oracle.produceEach(
                        bootstrap: broker.bootstrap, topic: topic,
                        records: (0..<20).map { OracleRecord(key: nil, value: "m\($0)", partition: $0 % 2) })
                    try await callback.wait(.seconds(60), "twenty deliveries") {
                        Set($0.filter { $0.status == 200 }.map(\.body)).count >= 20
                    }
                    try await Task.sleep(for: .milliseconds(500))
                    let delivered = [first, second].map {
                        $0.gateway.webhooks.delivery(subscription: "partner-hook")?.counters.delivered ?? 0
                    }
                    #expect(delivered.reduce(0, +) == 20, "\(delivered)")
                    #expect(delivered.allSatisfy { $0 > 0 }, "both nodes delivered: \(delivered)")
                }
            }
            #expect(callback.acknowledgedBodies.count == 20, "no duplicates")
        }
    }
}
