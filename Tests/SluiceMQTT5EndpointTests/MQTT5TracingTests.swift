import Foundation
import GatewayTestSupport
import MQTT5TestSupport
import Testing

/// W3C trace context across a real mosquitto, both ways: a client's `traceparent` becomes a User Property of the
/// publication (read back by paho) and reaches an SSE consumer and a webhook callback; a publication paho sends
/// with a `traceparent` User Property reaches them too. With tracing on, the gateway's spans (exported over
/// OTLP/HTTP to a receiver the test runs) sit in that same trace, each with the right parent.
@Suite(
    "mqtt5 endpoint: trace context across the broker", .serialized,
    .enabled(if: MQTT5EndpointTestEnvironment.enabled, MQTT5EndpointTestEnvironment.skipReason))
struct MQTT5TracingTests {
    /// `orders`: http-post and SSE (headers as comments) on one topic; `hooks`: a webhook subscription on it.
    static func definitions(port: Int, topic: String, callback: String) -> [String: String] {
        let orders = MQTT5API.definition(
            id: "orders", path: "/orders", port: port,
            entrypoints: """
                [\(MQTT5API.entrypoint("http-post", qos: "auto")),
                 \(MQTT5API.entrypoint("sse", qos: "auto", configuration: #"{ "heartbeatIntervalInMs": 1000, "headersAsComment": true }"#))]
                """,
            shared: "{ \(MQTT5API.producer(topic)), \(MQTT5API.consumer(topic)) }")
        return [
            "orders.json": orders, "hooks.json": MQTT5WebhookTests.api(port: port, topic: topic, qos: "auto"),
            "hooks.access.yaml": MQTT5WebhookTests.access(callback: callback),
        ]
    }

    /// Runs `body` with a mosquitto, a topic, a webhook receiver, the gateway serving
    /// ``definitions(port:topic:callback:)`` and, with `tracing`, an OTLP receiver the gateway exports to; the webhook
    /// subscription has its subscription when `body` starts (warm-up messages until the callback gets one).
    func withTracedGateway(
        tracing: Bool, topicPrefix: String,
        _ body: (MosquittoBroker, String, PahoOracle, CallbackServer, OTLPTraceReceiver?, TestGateway) async throws ->
            Void
    ) async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic(topicPrefix)
            try await withTraceReceivers(tracing: tracing) { callback, receiver in
                try await withMQTT5Gateway(
                    Self.definitions(port: broker.port, topic: topic, callback: callback.url),
                    configure: { receiver?.configure(&$0) }
                ) { gateway in
                    let paho = try PahoOracle()
                    try await MQTT5WebhookTests.warmUp(paho, port: broker.port, topic: topic, callback) {
                        callback.received.contains { $0.body.hasPrefix("warm-up") }
                    }
                    try await body(broker, topic, paho, callback, receiver, gateway)
                }
            }
        }
    }

    @Test(
        "a client's traceparent on POST becomes a User Property and reaches an SSE consumer and a webhook; traced: server → producer → consumer and webhook spans in one trace",
        arguments: [false, true])
    func producerToConsumers(tracing: Bool) async throws {
        let client = TestTraceParent.make()
        try await withTracedGateway(tracing: tracing, topicPrefix: "traced") {
            broker, topic, paho, callback, receiver, gateway in
            let subscriber = try await paho.subscribe(port: broker.port, topic: topic, qos: .atLeastOnce, count: 1)
            let stream = try await RawSSEClient.open(port: gateway.port, path: "/orders")
            #expect(stream.status == 200)
            let response = try await httpCall(
                .POST, "\(gateway.baseURL)/orders",
                headers: [("traceparent", client.header), ("tracestate", "client=1")], body: "traced")
            #expect(response.status == 202, "\(response.body)")

            // The publication, as paho reads it.
            let message = try #require(try await subscriber.messages().first)
            let properties = Dictionary(
                message.properties.userProperties.map { ($0[0], $0[1]) }, uniquingKeysWith: { a, _ in a })
            let published = try #require(TestTraceParent(properties["traceparent"]), "\(properties)")
            #expect(published.traceID == client.traceID)
            #expect(properties["tracestate"] == "client=1")
            if !tracing { #expect(properties["traceparent"] == client.header, "carried as it came") }

            // The SSE consumer, through the gateway.
            let events = try await stream.messages(1)
            #expect(events.first?.data == "traced")
            let comment = try #require(events.first?.comments.first { $0.hasPrefix("traceparent: ") })
            #expect(TestTraceParent(String(comment.dropFirst("traceparent: ".count))) == published)
            await stream.close()

            // The webhook receiver.
            let (_, hookParent) = try await callback.traced("traced")
            #expect(hookParent.traceID == client.traceID)
            if !tracing { #expect(hookParent == published) }

            try await receiver?.publishChain(
                client: (client.traceID, client.parentID), carried: published, callback: hookParent, system: "mqtt",
                topic: topic)
        }
    }

    @Test(
        "a publication paho sends with a traceparent User Property reaches SSE and webhook consumers; traced: their spans are its children",
        arguments: [false, true])
    func brokerToConsumers(tracing: Bool) async throws {
        let producer = TestTraceParent.make()
        try await withTracedGateway(tracing: tracing, topicPrefix: "traced-in") {
            broker, topic, paho, callback, receiver, gateway in
            let stream = try await RawSSEClient.open(port: gateway.port, path: "/orders")
            try await paho.publish(
                port: broker.port,
                [pahoMessage(topic: topic, "from-mqtt", userProperties: [("traceparent", producer.header)])])
            let events = try await stream.messages(1)
            #expect(events.first?.data == "from-mqtt")
            #expect(events.first?.comments.contains("traceparent: \(producer.header)") == true)
            await stream.close()

            let (hook, hookParent) = try await callback.traced("from-mqtt")
            #expect(hookParent.traceID == producer.traceID)
            if !tracing { #expect(hook.header("traceparent") == producer.header) }

            try await receiver?.deliveryChain(
                producer: (producer.traceID, producer.parentID), callback: hookParent, system: "mqtt", topic: topic)
        }
    }
}
