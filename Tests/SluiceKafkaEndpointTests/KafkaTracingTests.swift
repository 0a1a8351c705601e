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

    @Test(
        "a client's traceparent on POST reaches the Kafka record, an SSE consumer and a webhook; traced: server → producer → consumer and webhook spans in one trace",
        arguments: [false, true])
    func producerToConsumers(tracing: Bool) async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("traced")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            let callback = try await CallbackServer.start()
            let receiver = tracing ? try await OTLPTraceReceiver.start() : nil
            let client = TestTraceParent.make()
            try await withKafkaGateway(
                Self.definitions(broker, topic: topic, callback: callback.url),
                configure: { receiver?.configure(&$0) }
            ) { gateway in
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
                #expect(TestTraceParent(String(comment.dropFirst("traceparent: ".count)))?.traceID == client.traceID)
                await stream.close()

                // The webhook receiver.
                try await callback.wait(.seconds(60), "the callback") { $0.contains { $0.body == "traced" } }
                let hook = try #require(callback.received.first { $0.body == "traced" })
                let hookParent = try #require(TestTraceParent(hook.header("traceparent")), "\(hook.headers)")
                #expect(hookParent.traceID == client.traceID)
                #expect(hook.header("tracestate") == "client=1")
                if !tracing { #expect(hookParent == recorded, "the record's context, as it came") }

                guard let receiver else { return }
                let spans = try await receiver.wait(.seconds(30), "server, producer, consumer and webhook spans") {
                    spans in
                    [.server, .producer, .consumer, .client].allSatisfy { kind in
                        spans.contains { $0.kind == kind && $0.traceID == client.traceID }
                    }
                }.filter { $0.traceID == client.traceID }
                let server = try #require(spans.first { $0.kind == .server })
                #expect(server.name == "POST /orders")
                #expect(server.parentSpanID == client.parentID, "a child of the client's span")
                #expect(server.attributes["sluice.api.id"] == "orders")
                #expect(server.attributes["http.request.method"] == "POST")
                #expect(server.attributes["http.response.status_code"] == "202")
                let producer = try #require(spans.first { $0.kind == .producer })
                #expect(producer.parentSpanID == server.spanID)
                #expect(producer.name == "send \(topic)")
                #expect(producer.attributes["messaging.system"] == "kafka")
                #expect(producer.attributes["messaging.destination.name"] == topic)
                #expect(recorded.parentID == producer.spanID, "the record carries the producer span")
                let consumer = try #require(spans.first { $0.kind == .consumer })
                #expect(consumer.parentSpanID == producer.spanID)
                #expect(consumer.attributes["sluice.entrypoint.type"] == "sse")
                #expect(consumer.attributes["messaging.destination.name"] == topic)
                let webhook = try #require(spans.first { $0.kind == .client })
                #expect(webhook.parentSpanID == producer.spanID)
                #expect(webhook.attributes["sluice.subscription.id"] == "partner-hook")
                #expect(hookParent.parentID == webhook.spanID, "the callback is a child of the webhook's span")
            }
            await callback.stop()
            await receiver?.stop()
        }
    }

    @Test(
        "a record produced straight to Kafka with a traceparent reaches SSE and webhook consumers; traced: their spans are its children",
        arguments: [false, true])
    func brokerToConsumers(tracing: Bool) async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("traced-in")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            let producer = TestTraceParent.make()
            _ = try await oracle.produce(
                bootstrap: broker.bootstrap, topic: topic,
                records: [
                    OracleRecord(
                        key: nil, value: "from-kafka", headers: [OracleHeader("traceparent", producer.header)],
                        partition: 0)
                ])
            let callback = try await CallbackServer.start()
            let receiver = tracing ? try await OTLPTraceReceiver.start() : nil
            try await withKafkaGateway(
                Self.definitions(broker, topic: topic, callback: callback.url),
                configure: { receiver?.configure(&$0) }
            ) { gateway in
                let stream = try await RawSSEClient.open(port: gateway.port, path: "/orders")
                let events = try await stream.messages(1)
                #expect(events.first?.data == "from-kafka")
                #expect(events.first?.comments.contains("traceparent: \(producer.header)") == true)
                await stream.close()

                try await callback.wait(.seconds(60), "the callback") { $0.contains { $0.body == "from-kafka" } }
                let hook = try #require(callback.received.first { $0.body == "from-kafka" })
                let hookParent = try #require(TestTraceParent(hook.header("traceparent")))
                #expect(hookParent.traceID == producer.traceID)
                if !tracing { #expect(hook.header("traceparent") == producer.header) }

                guard let receiver else { return }
                let spans = try await receiver.wait(.seconds(30), "consumer and webhook spans") { spans in
                    spans.contains { $0.kind == .consumer && $0.traceID == producer.traceID }
                        && spans.contains { $0.kind == .client && $0.traceID == producer.traceID }
                }.filter { $0.traceID == producer.traceID }
                let consumer = try #require(spans.first { $0.kind == .consumer })
                #expect(consumer.parentSpanID == producer.parentID, "a child of the record's producer")
                #expect(consumer.name == "process \(topic)")
                #expect(consumer.attributes["messaging.system"] == "kafka")
                let webhook = try #require(spans.first { $0.kind == .client })
                #expect(webhook.parentSpanID == producer.parentID)
                #expect(hookParent.parentID == webhook.spanID)
            }
            await callback.stop()
            await receiver?.stop()
        }
    }
}
