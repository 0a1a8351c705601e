import Foundation
import SluiceCore
import SluiceGateway
import Testing

import class GatewayTestSupport.CallbackServer
import enum GatewayTestSupport.WebhookFixtures

/// Each webhook subscription's status and counters on the Prometheus metrics listener, read over HTTP as a
/// scraper reads them: one subscription delivering, one in FAILURE, one PAUSED.
@Suite("webhook metrics (mock endpoint, loopback callbacks)", .serialized)
struct WebhookMetricsTests {
    static func access(ok: String, failing: String) -> String {
        WebhookFixtures.access([
            WebhookFixtures.subscription("sub-ok", callback: ok),
            WebhookFixtures.subscription("sub-fail", callback: failing),
            WebhookFixtures.subscription("sub-paused", callback: ok, status: "PAUSED"),
        ])
    }

    /// The value of the sample `name{labels}` in a scrape, if it is there.
    static func sample(_ text: String, _ name: String, _ labels: String) -> Double? {
        let prefix = "\(name){\(labels)} "
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap {
            Double($0.dropFirst(prefix.count))
        }
    }

    @Test("status (ACCEPTED, PAUSED, FAILURE with its reason) and counters per api and subscription")
    func scrape() async throws {
        let ok = try await CallbackServer.start()
        let failing = try await CallbackServer.start(.status(500))
        defer {
            Task {
                await ok.stop()
                await failing.stop()
            }
        }
        let configuration = #"{ "retry": { "maxRetries": 2, "delayMs": 5, "maxDelayMs": 50 } }"#
        try await withGateway(
            [
                "hooks.json": WebhookDeliveryTests.api(
                    qos: "at-least-once", count: 5, interval: 1, configuration: configuration),
                "hooks.access.yaml": Self.access(ok: ok.url, failing: failing.url),
            ],
            configure: { $0.metricsPort = 0 }
        ) { gateway in
            let port = try #require(await gateway.gateway.metricsPort())
            let url = "http://127.0.0.1:\(port)/_node/metrics/prometheus"
            try await ok.wait(.seconds(20), "five deliveries") { $0.count >= 5 }
            // The receiver counts a POST before the gateway has its answer: wait until the gateway counted it too.
            #expect(
                try await gateway.eventually(timeout: .seconds(10)) {
                    gateway.gateway.webhooks.delivery(subscription: "sub-ok")?.counters.delivered == 5
                })
            #expect(
                try await gateway.eventually(timeout: .seconds(10)) {
                    gateway.gateway.webhooks.delivery(subscription: "sub-fail")?.status == .failure
                })
            let response = try await httpCall(.GET, url)
            #expect(response.status == 200)
            #expect(response.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = response.body
            func labels(_ subscription: String, _ extra: String = "") -> String {
                #"api="hooks",subscription="\#(subscription)""# + extra
            }
            #expect(text.contains("# TYPE sluice_webhook_delivered_total counter"))
            #expect(text.contains("# TYPE sluice_webhook_subscription_status gauge"))
            #expect(Self.sample(text, "sluice_webhook_delivered_total", labels("sub-ok")) == 5)
            #expect(Self.sample(text, "sluice_webhook_delivered_total", labels("sub-fail")) == 0)
            #expect(Self.sample(text, "sluice_webhook_delivered_total", labels("sub-paused")) == 0)
            let status = "sluice_webhook_subscription_status"
            #expect(Self.sample(text, status, labels("sub-ok", #",status="ACCEPTED""#)) == 1)
            #expect(Self.sample(text, status, labels("sub-ok", #",status="FAILURE""#)) == 0)
            #expect(Self.sample(text, status, labels("sub-fail", #",status="FAILURE""#)) == 1)
            #expect(Self.sample(text, status, labels("sub-fail", #",status="ACCEPTED""#)) == 0)
            #expect(Self.sample(text, status, labels("sub-paused", #",status="PAUSED""#)) == 1)
            let retries = try #require(Self.sample(text, "sluice_webhook_retries_total", labels("sub-fail")))
            #expect(retries >= 2, "the failing subscription's retries: \(retries)")
            #expect(Self.sample(text, "sluice_webhook_retries_total", labels("sub-ok")) == 0)
            #expect(Self.sample(text, "sluice_webhook_dead_lettered_total", labels("sub-ok")) == 0)
            #expect(Self.sample(text, "sluice_webhook_dropped_total", labels("sub-fail")) == 0)
            // The same outcomes per API, plan and application (no subscription label).
            let perPlan = #"api="hooks",plan="push",application="partner",outcome="#
            #expect(Self.sample(text, "sluice_webhook_deliveries_total", perPlan + #""delivered""#) == 5, "\(text)")
            #expect((Self.sample(text, "sluice_webhook_deliveries_total", perPlan + #""retried""#) ?? 0) >= 2)
            #expect(Self.sample(text, "sluice_webhook_deliveries_total", perPlan + #""dead_lettered""#) == 0)
            let reason = gateway.gateway.webhooks.delivery(subscription: "sub-fail")?.failureReason ?? "?"
            let info = text.split(separator: "\n").first {
                $0.hasPrefix(#"sluice_webhook_subscription_failure_info{api="hooks",subscription="sub-fail",reason=""#)
            }
            #expect(info?.hasSuffix(" 1") == true, "\(text)")
            #expect(info?.contains(reason) == true, "the reason (\(reason)) is the label: \(info ?? "")")
            #expect(!text.contains(#"failure_info{api="hooks",subscription="sub-ok""#))
            // The same text at /metrics; anything else is 404.
            #expect(try await httpCall(.GET, "http://127.0.0.1:\(port)/metrics").body.contains("sub-ok"))
            #expect(try await httpCall(.GET, "http://127.0.0.1:\(port)/other").status == 404)
        }
    }

    @Test("no metrics listener unless metrics.port is set")
    func offByDefault() async throws {
        try await withGateway([:]) { gateway in
            #expect(await gateway.gateway.metricsPort() == nil)
        }
    }
}
