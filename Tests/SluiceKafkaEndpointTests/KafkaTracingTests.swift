import Foundation
import GatewayTestSupport
import KafkaTestSupport
import Testing

/// W3C trace context across a real broker (tansu), both ways: a client's `traceparent` reaches the record's headers
/// (read back by librdkafka), an SSE consumer and a webhook callback; a record produced straight to Kafka with one
/// reaches the gateway's consumers. With tracing on, the gateway's spans (exported over OTLP/HTTP to a receiver the
/// test runs) sit in that same trace, each with the right parent.
@Suite("kafka endpoint: trace context across the broker", .serialized)
struct KafkaTracingTests {
    let oracle = LibrdkafkaOracle()

    /// `orders`: http-post and SSE (headers as comments) on one topic; `hooks`: a webhook subscription on it.
    static func definitions(_ broker: TansuBroker, topic: String, callback: String) -> [String: String] {
        let orders = KafkaAPI.definition(
            id: "orders", path: "/orders", bootstrap: broker.bootstrap,
            entrypoints: """
                [\(KafkaAPI.entrypoint("http-post", qos: "auto")),
                 \(KafkaAPI.entrypoint("sse", qos: "auto", configuration: #"{ "heartbeatIntervalInMs": 1000, "headersAsComment": true }"#))]
                """,
            shared: "{ \(KafkaAPI.producer(topic)), \(KafkaAPI.consumer(topic)) }")
        let hooks = """
            { "id": "hooks", "name": "hooks", "definitionVersion": "4.0.0", "type": "message",
              "listeners": [\(WebhookFixtures.listener(qos: "auto"))],
              "endpointGroups": [{ "name": "default-group", "type": "kafka",
                "endpoints": [{ "name": "default", "type": "kafka", "inheritConfiguration": false,
                  "configuration": { "bootstrapServers": "\(broker.bootstrap)" },
                  "sharedConfigurationOverride": { \(KafkaAPI.consumer(topic)) } }] }],
              "plans": [{ "id": "push", "name": "Push", "mode": "PUSH", "status": "PUBLISHED" }] }
            """
        return [
            "orders.json": orders, "hooks.json": hooks,
            "hooks.access.yaml": WebhookFixtures.access([
                WebhookFixtures.subscription("partner-hook", callback: callback)
            ]),
        ]
    }

    /// Runs `body` with a broker, a topic, a webhook receiver, the gateway serving ``definitions(_:topic:callback:)``
    /// and, with `tracing`, an OTLP receiver the gateway exports to.
    func withTracedGateway(
        tracing: Bool, topicPrefix: String,
        _ body: (TansuBroker, String, CallbackServer, OTLPTraceReceiver?, KafkaTestGateway) async throws -> Void
    ) async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic(topicPrefix)
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            try await withTraceReceivers(tracing: tracing) { callback, receiver in
                try await withKafkaGateway(
                    Self.definitions(broker, topic: topic, callback: callback.url),
                    configure: { receiver?.configure(&$0) }
                ) { gateway in try await body(broker, topic, callback, receiver, gateway) }
            }
        }
    }

    @Test(
        "a client's traceparent on POST reaches the Kafka record, an SSE consumer and a webhook; traced: server → producer → consumer and webhook spans in one trace",
        arguments: [false, true])
    func producerToConsumers(tracing: Bool) async throws {
        let client = TestTraceParent.make()
        try await withTracedGateway(tracing: tracing, topicPrefix: "traced") {
            broker, topic, callback, receiver, gateway in
            let stream = try await RawSSEClient.open(port: gateway.port, path: "/orders")
            #expect(stream.status == 200)
            let response = try await httpCall(
                .POST, "\(gateway.baseURL)/orders",
                headers: [("traceparent", client.header), ("tracestate", "client=1")], body: "traced")
            #expect(response.status == 202, "\(response.body)")

            // The record, as librdkafka reads it.
            let records = try await oracle.consume(bootstrap: broker.bootstrap, topic: topic, count: 1)
            let record = try #require(records.first)
            let recordHeaders = Dictionary(
                (record.headers ?? []).map { ($0.key, $0.value.map { String(decoding: $0, as: UTF8.self) } ?? "") },
                uniquingKeysWith: { a, _ in a })
            let recorded = try #require(TestTraceParent(recordHeaders["traceparent"]), "\(recordHeaders)")
            #expect(recorded.traceID == client.traceID)
            #expect(recordHeaders["tracestate"] == "client=1")
            if !tracing { #expect(recordHeaders["traceparent"] == client.header, "carried as it came") }

            // The SSE consumer, through the gateway.
            let events = try await stream.messages(1)
            let comment = try #require(events.first?.comments.first { $0.hasPrefix("traceparent: ") })
            #expect(TestTraceParent(String(comment.dropFirst("traceparent: ".count))) == recorded)
            await stream.close()

            // The webhook receiver.
            let (hook, hookParent) = try await callback.traced("traced")
            #expect(hookParent.traceID == client.traceID)
            #expect(hook.header("tracestate") == "client=1")
            if !tracing { #expect(hookParent == recorded, "the record's context, as it came") }

            guard let receiver else { return }
            let spans = try await receiver.publishChain(
                client: (client.traceID, client.parentID), carried: recorded, callback: hookParent, system: "kafka",
                topic: topic)
            #expect(spans.server.name == "POST /orders")
            #expect(spans.server.attributes["sluice.api.id"] == "orders")
            #expect(spans.server.attributes["http.response.status_code"] == "202")
            #expect(spans.producer.name == "send \(topic)")
            #expect(spans.consumer.attributes["sluice.entrypoint.type"] == "sse")
            #expect(spans.webhook.attributes["sluice.subscription.id"] == "partner-hook")
        }
    }

    @Test(
        "a record produced straight to Kafka with a traceparent reaches SSE and webhook consumers; traced: their spans are its children",
        arguments: [false, true])
    func brokerToConsumers(tracing: Bool) async throws {
        let producer = TestTraceParent.make()
        try await withTracedGateway(tracing: tracing, topicPrefix: "traced-in") {
            broker, topic, callback, receiver, gateway in
            _ = try await oracle.produce(
                bootstrap: broker.bootstrap, topic: topic,
                records: [
                    OracleRecord(
                        key: nil, value: "from-kafka", headers: [OracleHeader("traceparent", producer.header)],
                        partition: 0)
                ])
            let stream = try await RawSSEClient.open(port: gateway.port, path: "/orders")
            let events = try await stream.messages(1)
            #expect(events.first?.data == "from-kafka")
            #expect(events.first?.comments.contains("traceparent: \(producer.header)") == true)
            await stream.close()

            let (hook, hookParent) = try await callback.traced("from-kafka")
            #expect(hookParent.traceID == producer.traceID)
            if !tracing { #expect(hook.header("traceparent") == producer.header) }

            try await receiver?.deliveryChain(
                producer: (producer.traceID, producer.parentID), callback: hookParent, system: "kafka", topic: topic)
        }
    }
}
