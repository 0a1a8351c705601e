import Foundation
import SluiceCore
import SluiceGateway
import Testing

import class GatewayTestSupport.CallbackServer

/// Webhook subscriptions end to end with the mock endpoint: a gateway in this process pushes to real callback
/// servers on loopback that accept, fail, hang or go away.
@Suite("webhook delivery (mock endpoint, loopback callbacks)", .serialized)
struct WebhookDeliveryTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    static func api(
        qos: String, count: Int, interval: Int = 5, configuration: String = "{}", dlq: Bool = false
    ) -> String {
        let dlqField = dlq ? #", "dlq": { "endpoint": "dead-letters" }"# : ""
        let dlqGroup =
            dlq
            ? #", { "name": "dlq", "type": "inmemory", "endpoints": [{ "name": "dead-letters", "type": "inmemory", "configuration": { "topic": "hooks-dlq" } }] }"#
            : ""
        return """
            {
              "id": "hooks", "name": "hooks", "definitionVersion": "4.0.0", "type": "message",
              "listeners": [{ "type": "subscription", "entrypoints": [{ "type": "webhook", "qos": "\(qos)", "configuration": \(configuration)\(dlqField) }] }],
              "endpointGroups": [
                { "name": "default", "type": "mock", "endpoints": [{ "name": "source", "type": "mock",
                  "configuration": { "messageInterval": \(interval), "messageCount": \(count), "messageContent": "hello",
                    "headers": [{ "name": "X-From-Message", "value": "m" }] } }] }
                \(dlqGroup)
              ],
              "plans": [{ "id": "push", "name": "Push", "mode": "PUSH", "status": "PUBLISHED" }]
            }
            """
    }

    /// An http-get API over the DLQ's topic, to read what went there.
    static let dlqReader = """
        {
          "id": "dlq-reader", "name": "dlq-reader", "definitionVersion": "4.0.0", "type": "message",
          "listeners": [{ "type": "http", "paths": [{ "path": "/dlq" }], "entrypoints": [{ "type": "http-get", "configuration": { "messagesLimitCount": 100, "messagesLimitDurationMs": 300, "headersInPayload": true } }] }],
          "endpointGroups": [{ "name": "d", "type": "inmemory", "endpoints": [{ "name": "d", "type": "inmemory", "configuration": { "topic": "hooks-dlq", "autoOffsetReset": "earliest" } }] }]
        }
        """

    static func access(callback: String, status: String = "ACCEPTED", extra: String = "") -> String {
        """
        applications:
          - id: partner
        subscriptions:
          - id: sub-1
            application: partner
            api: hooks
            plan: push
            status: \(status)
            configuration:
              entrypointId: webhook
              entrypointConfiguration:
                callbackUrl: \(callback)
                headers: [{ name: X-Team, value: checkout }]
                auth: { type: basic, basic: { username: partner, password: s3cret } }
                secret: \(secret)
        \(extra)
        """
    }

    /// The message id a delivery carries in its `webhook-id` (`msg_<subscription>_<id>`).
    static func messageID(_ received: CallbackServer.Received) -> Int? {
        received.header("webhook-id").flatMap { $0.split(separator: "_").last.flatMap { Int($0) } }
    }

    @Test(
        "each message is POSTed with its content, headers, the subscription's headers and auth, and a valid Standard Webhooks signature"
    )
    func deliversSigned() async throws {
        let callback = try await CallbackServer.start()
        defer { Task { await callback.stop() } }
        try await withGateway(
            [
                "hooks.json": Self.api(qos: "at-least-once", count: 5),
                "hooks.access.yaml": Self.access(callback: callback.url),
            ]
        ) { gateway in
            try await callback.wait(.seconds(20), "five deliveries") { $0.count >= 5 }
            try await Task.sleep(for: .milliseconds(200))
            let received = callback.received
            #expect(received.count == 5, "nothing more than the five messages")
            #expect(received.compactMap(Self.messageID) == [0, 1, 2, 3, 4], "in order")
            let secret = try #require(WebhookSigningSecret(Self.secret))
            for request in received {
                #expect(request.body == "hello")
                #expect(request.path == "/hook")
                #expect(request.header("X-From-Message") == "m")
                #expect(request.header("X-Team") == "checkout")
                #expect(request.header("Authorization") == "Basic " + Data("partner:s3cret".utf8).base64EncodedString())
                let id = try #require(request.header("webhook-id"))
                let timestamp = try #require(request.header("webhook-timestamp").flatMap { Int64($0) })
                #expect(abs(timestamp - Int64(Date().timeIntervalSince1970)) < 60)
                let signature = try #require(request.header("webhook-signature"))
                #expect(secret.verify(header: signature, id: id, timestamp: timestamp, body: Data(request.body.utf8)))
            }
            let delivery = try #require(gateway.gateway.webhooks.delivery(subscription: "sub-1"))
            // The receiver records a POST before its answer reaches the gateway, which then counts it.
            #expect(try await gateway.eventually(timeout: .seconds(10)) { delivery.counters.delivered == 5 })
            #expect(delivery.status == .accepted)
        }
    }

    @Test(
        "a callback failing 30% of the time with 503: at-least-once acknowledges every message exactly once, in order, retries counted"
    )
    func failingCallback() async throws {
        let callback = try await CallbackServer.start(.failing(rate: 0.3))
        defer { Task { await callback.stop() } }
        let configuration = #"{ "retry": { "maxRetries": 50, "delayMs": 5, "maxDelayMs": 20 } }"#
        try await withGateway(
            [
                "hooks.json": Self.api(qos: "at-least-once", count: 40, configuration: configuration),
                "hooks.access.yaml": Self.access(callback: callback.url),
            ]
        ) { gateway in
            try await callback.wait(.seconds(60), "forty acknowledgements") {
                $0.filter { $0.status == 200 }.count >= 40
            }
            try await Task.sleep(for: .milliseconds(200))
            let received = callback.received
            let acknowledged = received.filter { $0.status == 200 }.compactMap(Self.messageID)
            #expect(acknowledged == Array(0..<40), "each exactly once, in order")
            let failed = received.filter { $0.status == 503 }.count
            #expect(failed > 0, "the receiver failed some (30% of \(received.count))")
            let delivery = try #require(gateway.gateway.webhooks.delivery(subscription: "sub-1"))
            // The receiver records a POST before its answer reaches the gateway, which then counts it.
            #expect(try await gateway.eventually(timeout: .seconds(10)) { delivery.counters.delivered == 40 })
            #expect(delivery.counters.retries == failed)
            // A retry carries the same webhook-id, so a receiver can tell it from a new message.
            #expect(Set(received.compactMap { $0.header("webhook-id") }).count == 40)
        }
    }

    @Test("a 4xx goes to the DLQ with the reason, and consumption goes on")
    func clientErrorsToDLQ() async throws {
        let callback = try await CallbackServer.start(.status(422))
        defer { Task { await callback.stop() } }
        try await withGateway(
            [
                "hooks.json": Self.api(qos: "auto", count: 3, dlq: true), "dlq.json": Self.dlqReader,
                "hooks.access.yaml": Self.access(callback: callback.url),
            ]
        ) { gateway in
            try await callback.wait(.seconds(20), "three attempts") { $0.count >= 3 }
            #expect(
                try await gateway.eventually(timeout: .seconds(10)) {
                    gateway.gateway.webhooks.delivery(subscription: "sub-1")?.counters.deadLettered == 3
                })
            let answer = try await httpCall(.GET, gateway.baseURL + "/dlq", headers: [("Accept", "application/json")])
            let items = answer.json?["items"]?.arrayValue ?? []
            #expect(items.count == 3, "\(answer.body)")
            let reason = items.first?["headers"]?["X-Gravitee-Webhook-Failure"]?.arrayValue?.first?.stringValue
            #expect(reason?.contains("422") == true, "\(answer.body)")
            #expect(items.first?["content"]?.stringValue == "hello")
            #expect(callback.received.count == 3, "a 4xx is not retried")
            #expect(gateway.gateway.webhooks.delivery(subscription: "sub-1")?.status == .accepted)
        }
    }

    @Test(
        "a callback that hangs, then goes away, then comes back: FAILURE while it is away, nothing lost, ACCEPTED again"
    )
    func hangAndComeBack() async throws {
        let callback = try await CallbackServer.start(.hang)
        let port = callback.port
        let configuration =
            #"{ "http": { "readTimeout": 300, "connectTimeout": 300 }, "retry": { "maxRetries": 1, "delayMs": 20, "maxDelayMs": 150 } }"#
        try await withGateway(
            [
                "hooks.json": Self.api(qos: "at-least-once", count: 6, configuration: configuration),
                "hooks.access.yaml": Self.access(callback: callback.url),
            ]
        ) { gateway in
            #expect(
                try await gateway.eventually(timeout: .seconds(10)) {
                    gateway.gateway.webhooks.delivery(subscription: "sub-1")?.status == .failure
                })
            let reason = gateway.gateway.webhooks.delivery(subscription: "sub-1")?.failureReason ?? ""
            #expect(reason.contains("in time"), "\(reason)")
            await callback.stop()
            try await Task.sleep(for: .milliseconds(500))
            #expect(gateway.gateway.webhooks.delivery(subscription: "sub-1")?.status == .failure)
            let back = try await CallbackServer.start(.accept, port: port)
            defer { Task { await back.stop() } }
            try await back.wait(.seconds(20), "six deliveries") { $0.count >= 6 }
            try await Task.sleep(for: .milliseconds(200))
            #expect(back.received.compactMap(Self.messageID) == Array(0..<6), "every message, once, in order")
            #expect(gateway.gateway.webhooks.delivery(subscription: "sub-1")?.status == .accepted)
            #expect(callback.received.allSatisfy { Self.messageID($0) == 0 }, "nothing moved past the first message")
        }
    }

    @Test("PAUSED in the access file stops deliveries at once; ACCEPTED resumes where it stopped")
    func pauseAndResume() async throws {
        let callback = try await CallbackServer.start()
        defer { Task { await callback.stop() } }
        try await withGateway(
            [
                "hooks.json": Self.api(qos: "at-least-once", count: 1000, interval: 20),
                "hooks.access.yaml": Self.access(callback: callback.url),
            ]
        ) { gateway in
            try await callback.wait(.seconds(20), "a first delivery") { $0.count >= 2 }
            try gateway.write("hooks.access.yaml", Self.access(callback: callback.url, status: "PAUSED"))
            #expect(
                try await gateway.eventually(timeout: .seconds(5)) {
                    gateway.gateway.webhooks.delivery(subscription: "sub-1")?.status == .paused
                })
            try await Task.sleep(for: .milliseconds(100))
            let whilePaused = callback.received.count
            try await Task.sleep(for: .milliseconds(500))
            #expect(callback.received.count == whilePaused, "nothing is delivered while paused")
            try gateway.write("hooks.access.yaml", Self.access(callback: callback.url))
            try await callback.wait(.seconds(10), "deliveries after resume") { $0.count >= whilePaused + 3 }
            let ids = callback.received.compactMap(Self.messageID)
            #expect(ids == Array(0..<ids.count), "resumed where it stopped, no gap, no repeat")
        }
    }

    @Test("auto with maxConcurrentConnections 4: POSTs overlap; at-least-once forces one at a time")
    func concurrency() async throws {
        for (qos, expectOverlap) in [("auto", true), ("at-least-once", false)] {
            let callback = try await CallbackServer.start(.slow(.milliseconds(150)))
            let configuration = #"{ "http": { "maxConcurrentConnections": 4 } }"#
            let started = ContinuousClock.now
            try await withGateway(
                [
                    "hooks.json": Self.api(qos: qos, count: 8, interval: 1, configuration: configuration),
                    "hooks.access.yaml": Self.access(callback: callback.url),
                ]
            ) { _ in
                try await callback.wait(.seconds(20), "eight deliveries") { $0.count >= 8 }
            }
            let elapsed = ContinuousClock.now - started
            await callback.stop()
            // Eight POSTs of 150 ms: about 0.3 s four at a time, at least 1.2 s one at a time.
            if expectOverlap {
                #expect(elapsed < .milliseconds(1100), "\(qos): \(elapsed)")
            } else {
                #expect(elapsed >= .milliseconds(1200), "\(qos): \(elapsed)")
                #expect(callback.received.compactMap(Self.messageID) == Array(0..<8))
            }
        }
    }
}
