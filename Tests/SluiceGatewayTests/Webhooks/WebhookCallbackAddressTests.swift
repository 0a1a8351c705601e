import Foundation
import SluiceCore
import SluiceEntrypoints
import SluiceGateway
import Synchronization
import Testing

import class GatewayTestSupport.CallbackServer

/// The gateway's callback address policy at delivery: names resolved, their addresses checked against the allow-
/// and deny-lists, and the connection made to the checked address with the name kept as `Host`.
@Suite("webhook callback addresses (resolved and checked at delivery)", .serialized)
struct WebhookCallbackAddressTests {
    static func access(callback: String) -> String {
        WebhookDeliveryTests.access(callback: callback)
    }

    static func failing(_ gateway: TestGateway) -> String? {
        guard let delivery = gateway.gateway.webhooks.delivery(subscription: "sub-1"), delivery.status == .failure
        else { return nil }
        return delivery.failureReason
    }

    @Test("a name the allow-list admits by its address block is delivered to, with the name as Host")
    func blockAdmitsName() async throws {
        let callback = try await CallbackServer.start()
        defer { Task { await callback.stop() } }
        try await withGateway(
            [
                "hooks.json": WebhookDeliveryTests.api(qos: "at-least-once", count: 3),
                "hooks.access.yaml": Self.access(callback: "http://localhost:\(callback.port)/hook"),
            ],
            configure: { $0.webhookCallbacks = WebhookCallbackPolicy(allowList: ["127.0.0.0/8"]) }
        ) { gateway in
            try await callback.wait(.seconds(20), "three deliveries") { $0.count >= 3 }
            for request in callback.received {
                #expect(request.header("Host") == "localhost:\(callback.port)")
            }
            // The receiver counts a POST before the gateway has its answer: wait until the gateway counted it too.
            #expect(
                try await gateway.eventually(timeout: .seconds(10)) {
                    gateway.gateway.webhooks.delivery(subscription: "sub-1")?.counters.delivered == 3
                })
        }
    }

    @Test("a name that resolves into the deny-list is never connected to: FAILURE with the addresses as the reason")
    func denyListStopsName() async throws {
        let callback = try await CallbackServer.start()
        defer { Task { await callback.stop() } }
        try await withGateway(
            [
                "hooks.json": WebhookDeliveryTests.api(
                    qos: "at-least-once", count: 3,
                    configuration: #"{ "retry": { "maxRetries": 1, "delayMs": 5, "maxDelayMs": 50 } }"#),
                "hooks.access.yaml": Self.access(callback: "http://localhost:\(callback.port)/hook"),
            ],
            configure: { $0.webhookCallbacks = WebhookCallbackPolicy(denyList: ["private"]) }
        ) { gateway in
            #expect(try await gateway.eventually(timeout: .seconds(10)) { Self.failing(gateway) != nil })
            let reason = Self.failing(gateway) ?? ""
            #expect(reason.contains("127.0.0.1") && reason.contains("does not allow"), "\(reason)")
            try await Task.sleep(for: .milliseconds(300))
            #expect(callback.received.isEmpty, "nothing reached the callback")
            #expect(gateway.gateway.webhooks.delivery(subscription: "sub-1")?.counters.delivered == 0)
        }
    }

    @Test(
        "a name that points elsewhere after the check (DNS rebinding): the next resolution is checked again and refused"
    )
    func rebinding() async throws {
        let callback = try await CallbackServer.start()
        defer { Task { await callback.stop() } }
        let answers = Mutex(0)
        let resolver = WebhookHostResolver(recheckAfter: .milliseconds(300)) { host in
            #expect(host == "hooks.partner.test")
            // The first answer is the callback; every later one an internal address.
            let count = answers.withLock { count in
                defer { count += 1 }
                return count
            }
            return count == 0 ? ["127.0.0.1"] : ["10.1.2.3"]
        }
        try await withGateway(
            [
                "hooks.json": WebhookDeliveryTests.api(
                    qos: "at-least-once", count: 100, interval: 50,
                    configuration: #"{ "retry": { "maxRetries": 0, "delayMs": 5, "maxDelayMs": 50 } }"#),
                "hooks.access.yaml": Self.access(callback: "http://hooks.partner.test:\(callback.port)/hook"),
            ],
            webhookResolver: resolver,
            configure: { $0.webhookCallbacks = WebhookCallbackPolicy(allowList: ["127.0.0.1/32"]) }
        ) { gateway in
            try await callback.wait(.seconds(20), "a first delivery") { $0.count >= 1 }
            #expect(try await gateway.eventually(timeout: .seconds(10)) { Self.failing(gateway) != nil })
            let reason = Self.failing(gateway) ?? ""
            #expect(reason.contains("10.1.2.3") && reason.contains("does not allow"), "\(reason)")
            let received = callback.received
            #expect(!received.isEmpty)
            for request in received {
                #expect(request.header("Host") == "hooks.partner.test:\(callback.port)")
            }
            let ids = received.compactMap(WebhookDeliveryTests.messageID)
            #expect(ids == Array(0..<ids.count), "in order, nothing skipped before the refusal")
            #expect(answers.withLock { $0 } >= 2, "the name was resolved again")
        }
    }

    @Test("an OAuth2 token endpoint whose name resolves into the deny-list is not asked for a token")
    func tokenEndpointDenied() async throws {
        let callback = try await CallbackServer.start()
        defer { Task { await callback.stop() } }
        let resolver = WebhookHostResolver { host in
            host == "auth.partner.test" ? ["127.0.0.2"] : ["127.0.0.1"]
        }
        let auth =
            "{ type: oauth2, oauth2: { endpoint: 'http://auth.partner.test:\(callback.port)/token', clientId: c, clientSecret: s } }"
        let access = Self.access(callback: "http://hooks.partner.test:\(callback.port)/hook").replacingOccurrences(
            of: "auth: { type: basic, basic: { username: partner, password: s3cret } }", with: "auth: \(auth)")
        #expect(access.contains("oauth2"))
        try await withGateway(
            [
                "hooks.json": WebhookDeliveryTests.api(
                    qos: "at-least-once", count: 3,
                    configuration: #"{ "retry": { "maxRetries": 0, "delayMs": 5, "maxDelayMs": 50 } }"#),
                "hooks.access.yaml": access,
            ],
            webhookResolver: resolver,
            configure: { $0.webhookCallbacks = WebhookCallbackPolicy(denyList: ["127.0.0.2/32"]) }
        ) { gateway in
            let failed = try await gateway.eventually(timeout: .seconds(10)) { Self.failing(gateway) != nil }
            #expect(failed)
            let reason = Self.failing(gateway) ?? ""
            #expect(reason.contains("token endpoint 'auth.partner.test'") && reason.contains("127.0.0.2"), "\(reason)")
            #expect(callback.received.isEmpty, "neither the token endpoint nor the callback was reached")
        }
    }

    @Test("a literal address in the deny-list is refused when the access file is read")
    func literalDenied() {
        var diagnostics = DiagnosticCollector()
        let policy = WebhookCallbackPolicy(denyList: ["private"])
        #expect(policy.check("http://127.0.0.1:9/hook", at: JSONPath("callbackUrl"), &diagnostics) == nil)
        #expect(diagnostics.diagnostics.first?.code == "CALLBACK_NOT_ALLOWED")
        var clean = DiagnosticCollector()
        #expect(policy.check("https://hooks.partner.example/x", at: JSONPath("callbackUrl"), &clean) != nil)
    }
}
