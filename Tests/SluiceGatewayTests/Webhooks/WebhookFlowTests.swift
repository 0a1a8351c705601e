import Foundation
import SluiceCore
import SluiceGateway
import Testing

import class GatewayTestSupport.CallbackServer

/// The API's flows on webhook messages: their `subscribe` phase runs on each message before it is POSTed.
@Suite("webhook messages through the API's flows", .serialized)
struct WebhookFlowTests {
    /// A webhook API over the embedded log's `orders` topic, with subscribe-phase steps: keep the subscription's
    /// tenant, add a header, and require a `tenant` field (a message without one fails its step).
    static let hooks = """
        {
          "id": "hooks", "name": "hooks", "definitionVersion": "4.0.0", "type": "message",
          "listeners": [{ "type": "subscription", "entrypoints": [{ "type": "webhook", "qos": "at-least-once", "dlq": { "endpoint": "dead-letters" } }] }],
          "endpointGroups": [
            { "name": "default", "type": "inmemory", "endpoints": [{ "name": "orders", "type": "inmemory", "configuration": { "topic": "orders", "autoOffsetReset": "earliest" } }] },
            { "name": "dlq", "type": "inmemory", "endpoints": [{ "name": "dead-letters", "type": "inmemory", "configuration": { "topic": "hooks-dlq" } }] }
          ],
          "flows": [{ "name": "per tenant", "enabled": true, "selectors": [{ "type": "channel", "channel": "/", "channelOperator": "STARTS_WITH", "entrypoints": ["webhook"], "operations": ["SUBSCRIBE"] }],
            "subscribe": [
              { "name": "schema", "policy": "json-validation", "enabled": true,
                "configuration": { "schema": "{\\"type\\": \\"object\\", \\"required\\": [\\"tenant\\"]}" } },
              { "name": "filter", "policy": "message-filtering", "enabled": true,
                "configuration": { "filter": "{#jsonPath(#message.content, '$.tenant') == #subscription.metadata['tenant']}" } },
              { "name": "mark", "policy": "transform-headers", "enabled": true,
                "configuration": { "addHeaders": [{ "name": "X-Checked", "value": "{#subscription.id}" }] } }
            ] }],
          "plans": [{ "id": "push", "name": "Push", "mode": "PUSH", "status": "PUBLISHED" }]
        }
        """

    static func access(callback: String) -> String {
        """
        applications:
          - id: partner
        subscriptions:
          - id: sub-acme
            application: partner
            api: hooks
            plan: push
            status: ACCEPTED
            metadata: { tenant: acme }
            configuration:
              entrypointId: webhook
              entrypointConfiguration:
                callbackUrl: \(callback)
        """
    }

    @Test(
        "subscribe-phase steps filter, change and fail webhook messages: kept ones POSTed, filtered ones counted, failed ones to the DLQ"
    )
    func filterTransformFail() async throws {
        let callback = try await CallbackServer.start()
        defer { Task { await callback.stop() } }
        try await withGateway(
            [
                "hooks.json": Self.hooks,
                "orders.json": Definitions.inMemory(id: "orders", path: "/orders", topic: "orders"),
                "dlq.json": WebhookDeliveryTests.dlqReader,
                "hooks.access.yaml": Self.access(callback: callback.url),
            ]
        ) { gateway in
            let bodies = [
                #"{"tenant":"acme","n":1}"#, #"{"tenant":"globex","n":2}"#, #"{"n":3}"#, #"{"tenant":"acme","n":4}"#,
            ]
            for body in bodies {
                let answer = try await httpCall(.POST, gateway.baseURL + "/orders", body: body)
                #expect(answer.status == 202, "\(answer.body)")
            }
            #expect(
                try await gateway.eventually(timeout: .seconds(20)) {
                    guard let counters = gateway.gateway.webhooks.delivery(subscription: "sub-acme")?.counters else {
                        return false
                    }
                    return counters.delivered + counters.filtered + counters.deadLettered == 4
                })
            let counters = try #require(gateway.gateway.webhooks.delivery(subscription: "sub-acme")?.counters)
            #expect(counters.delivered == 2)
            #expect(counters.filtered == 1)
            #expect(counters.deadLettered == 1)
            let received = callback.received
            #expect(received.map(\.body) == [#"{"tenant":"acme","n":1}"#, #"{"tenant":"acme","n":4}"#])
            #expect(received.allSatisfy { $0.header("X-Checked") == "sub-acme" }, "\(received.map(\.headers))")
            let answer = try await httpCall(.GET, gateway.baseURL + "/dlq", headers: [("Accept", "application/json")])
            let items = answer.json?["items"]?.arrayValue ?? []
            #expect(items.count == 1, "\(answer.body)")
            #expect(items.first?["content"]?.stringValue == #"{"n":3}"#)
            let reason = items.first?["headers"]?["X-Gravitee-Webhook-Failure"]?.arrayValue?.first?.stringValue
            #expect(reason?.contains("flow step failed") == true, "\(answer.body)")
        }
    }
}
