import Foundation
import GatewayTestSupport
import MQTT5TestSupport
import Testing

/// Webhook subscriptions over a real broker (mosquitto), paho publishing: under at-least-once each gateway node
/// reads the subscription's shared subscription through a persistent session of its own and sends a message's
/// PUBACK only once the callback took it, so a failing callback, a callback that goes away and a gateway that
/// restarts lose nothing, and two nodes share the messages.
@Suite(
    "mqtt5 endpoint: webhook subscriptions", .serialized,
    .enabled(if: MQTT5EndpointTestEnvironment.enabled, MQTT5EndpointTestEnvironment.skipReason))
struct MQTT5WebhookTests {
    static func api(port: Int, topic: String, qos: String, maxRetries: Int = 2) -> String {
        """
        { "id": "hooks", "name": "hooks", "definitionVersion": "4.0.0", "type": "message",
          "listeners": [\(WebhookFixtures.listener(qos: qos, maxRetries: maxRetries))],
          "endpointGroups": [{ "name": "default-group", "type": "mqtt5",
            "endpoints": [{ "name": "default", "type": "mqtt5", "inheritConfiguration": false,
              "configuration": { "serverHost": "127.0.0.1", "serverPort": \(port) },
              "sharedConfigurationOverride": { \(MQTT5API.consumer(topic)) } }] }],
          "plans": [{ "id": "push", "name": "Push", "mode": "PUSH", "status": "PUBLISHED" }] }
        """
    }

    static func access(callback: String) -> String {
        WebhookFixtures.access([WebhookFixtures.subscription("partner-hook", callback: callback)])
    }

    /// The distinct test messages (`m…`) the callback acknowledged so far.
    static func acknowledgedSet(_ received: [CallbackServer.Received]) -> Set<String> {
        Set(received.filter { $0.status == 200 && $0.body.hasPrefix("m") }.map(\.body))
    }

    /// The bodies of the test's messages (`m…`) the callback acknowledged, warm-up messages left out.
    static func acknowledged(_ callback: CallbackServer) -> [String] {
        callback.acknowledgedBodies.filter { $0.hasPrefix("m") }
    }

    /// Publishes warm-up messages one at a time until `ready` holds: the gateways' shared subscriptions exist (a
    /// message published before them is not kept for them).
    static func warmUp(
        _ paho: PahoOracle, port: Int, topic: String, _ callback: CallbackServer, until ready: () -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        var index = 0
        while !ready() {
            guard ContinuousClock.now < deadline else { throw HarnessFailure("the gateways never subscribed") }
            try await paho.publish(port: port, [pahoMessage(topic: topic, "warm-up \(index)")])
            index += 1
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Publishes m<i> for each i, each with its own `webhook-id` User Property (`id-<i>`).
    static func publish(_ paho: PahoOracle, port: Int, topic: String, _ range: Range<Int>) async throws {
        try await paho.publish(
            port: port,
            range.map { pahoMessage(topic: topic, "m\($0)", userProperties: [("webhook-id", "id-\($0)")]) })
    }

    /// Every acknowledged delivery's body carries the webhook-id its publisher gave it.
    static func idsFollowPublisher(_ callback: CallbackServer) -> Bool {
        callback.received.filter { $0.status == 200 && $0.body.hasPrefix("m") }.allSatisfy {
            $0.header("webhook-id") == "msg_partner-hook_id-\($0.body.dropFirst())"
        }
    }

    @Test("at-least-once: a callback failing 30% with 5xx acknowledges every message once, in order")
    func failingCallback() async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("hooks")
            let callback = try await CallbackServer.start()
            let definitions = [
                "hooks.json": Self.api(port: broker.port, topic: topic, qos: "at-least-once", maxRetries: 20),
                "hooks.access.yaml": Self.access(callback: callback.url),
            ]
            let paho = try PahoOracle()
            try await withMQTT5Gateway(definitions) { gateway in
                try await Self.warmUp(paho, port: broker.port, topic: topic, callback) {
                    !callback.acknowledgedBodies.isEmpty
                }
                callback.set(.failing(rate: 0.3))
                try await Self.publish(paho, port: broker.port, topic: topic, 0..<60)
                try await callback.wait(.seconds(90), "m0…m59") { Self.acknowledgedSet($0).count >= 60 }
                try await Task.sleep(for: .milliseconds(500))
                let failures = callback.received.filter { $0.status == 503 }.count
                #expect(failures > 0, "the receiver failed some requests")
                let counters = gateway.gateway.webhooks.delivery(subscription: "partner-hook")?.counters
                #expect(counters?.retries == failures)
                #expect(counters?.deadLettered == 0)
                #expect(counters?.dropped == 0)
            }
            await callback.stop()
            #expect(Self.acknowledged(callback) == (0..<60).map { "m\($0)" }, "each once, in order")
        }
    }

    @Test("at-least-once: nothing is lost across a callback outage and a gateway restart")
    func outageAndRestart() async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("hooks-restart")
            let callback = try await CallbackServer.start()
            let port = callback.port
            let definitions = [
                "hooks.json": Self.api(port: broker.port, topic: topic, qos: "at-least-once"),
                "hooks.access.yaml": Self.access(callback: callback.url),
            ]
            let paho = try PahoOracle()
            // A first gateway delivers m0…m4; then the callback goes away while m5…m9 arrive.
            try await withMQTT5Gateway(definitions, nodeID: "node-a") { gateway in
                try await Self.warmUp(paho, port: broker.port, topic: topic, callback) {
                    !callback.acknowledgedBodies.isEmpty
                }
                try await Self.publish(paho, port: broker.port, topic: topic, 0..<5)
                try await callback.wait(.seconds(30), "m0…m4") { Self.acknowledgedSet($0).count >= 5 }
                await callback.stop()
                try await Self.publish(paho, port: broker.port, topic: topic, 5..<10)
                _ = try await eventually(timeout: .seconds(30)) {
                    gateway.gateway.webhooks.delivery(subscription: "partner-hook")?.status == .failure ? true : nil
                }
            }
            // The gateway is down: m10…m14 wait in its session at the broker.
            try await Self.publish(paho, port: broker.port, topic: topic, 10..<15)
            #expect(Self.acknowledged(callback) == (0..<5).map { "m\($0)" })
            // The callback comes back, and the node restarts with its name (nothing kept in memory).
            let back = try await CallbackServer.start(port: port)
            try await withMQTT5Gateway(definitions, nodeID: "node-a") { _ in
                try await back.wait(.seconds(60), "m5…m14") {
                    Self.acknowledgedSet($0).isSuperset(of: (5..<15).map { "m\($0)" })
                }
                try await Task.sleep(for: .milliseconds(500))
            }
            await back.stop()
            let all = Self.acknowledged(callback) + Self.acknowledged(back)
            #expect(Set(all) == Set((0..<15).map { "m\($0)" }), "none lost")
            #expect(!Self.acknowledged(back).contains("m0"), "acknowledged messages are not delivered again")
            #expect(all.count == Set(all).count, "duplicates: \(all.count - Set(all).count)")
            #expect(Self.acknowledged(back) == (5..<15).map { "m\($0)" }, "in order")
            #expect(Self.idsFollowPublisher(callback) && Self.idsFollowPublisher(back), "webhook-id from the publisher")
        }
    }

    @Test("two gateways share one subscription: each message is delivered once between them")
    func twoNodesShareTheWork() async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("hooks-shared")
            let callback = try await CallbackServer.start()
            let definitions = [
                "hooks.json": Self.api(port: broker.port, topic: topic, qos: "at-least-once"),
                "hooks.access.yaml": Self.access(callback: callback.url),
            ]
            let paho = try PahoOracle()
            try await withMQTT5Gateway(definitions) { first in
                try await withMQTT5Gateway(definitions) { second in
                    let nodes = [first, second]
                    func delivered() -> [Int] {
                        nodes.map {
                            $0.gateway.webhooks.delivery(subscription: "partner-hook")?.counters.delivered ?? 0
                        }
                    }
                    // Both nodes are in the share group once each has delivered a warm-up message.
                    try await Self.warmUp(paho, port: broker.port, topic: topic, callback) {
                        delivered().allSatisfy { $0 > 0 }
                    }
                    try await Task.sleep(for: .milliseconds(300))
                    let before = delivered()
                    try await Self.publish(paho, port: broker.port, topic: topic, 0..<40)
                    try await callback.wait(.seconds(60), "forty deliveries") { Self.acknowledgedSet($0).count >= 40 }
                    try await Task.sleep(for: .milliseconds(500))
                    let share = zip(delivered(), before).map { $0 - $1 }
                    #expect(share.reduce(0, +) == 40, "\(share)")
                    #expect(share.allSatisfy { $0 > 0 }, "both nodes delivered: \(share)")
                }
            }
            await callback.stop()
            #expect(Self.acknowledged(callback).count == 40, "no duplicates")
        }
    }
}
