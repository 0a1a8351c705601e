import Foundation
import GatewayTestSupport
import KafkaTestSupport
import SluiceGateway
import Testing

/// `/health/ready` on the metrics listener follows the Kafka cluster: ready while a broker is connected, 503 with
/// the endpoint named DOWN once it has gone, ready again when it is back; and the connection state is a metric.
@Suite("kafka endpoint: readiness follows the broker", .serialized)
struct KafkaReadinessTests {
    let oracle = LibrdkafkaOracle()

    @Test("ready with the broker up, 503 while it is away, ready again once it is back")
    func readinessFlips() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("ready")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            let api = KafkaAPI.definition(
                id: "events", path: "/events", bootstrap: broker.bootstrap,
                entrypoints: "[\(KafkaAPI.entrypoint("http-post", qos: "auto"))]",
                shared: "{ \(KafkaAPI.producer(topic)) }")
            try await withKafkaGateway(["events.json": api], configure: { $0.metricsPort = 0 }) { gateway in
                let port = try #require(await gateway.gateway.metricsPort())
                let ready = "http://127.0.0.1:\(port)/health/ready"
                let first = try await httpCall(.GET, ready)
                #expect(first.status == 200, "\(first.body)")
                #expect(first.json?["status"]?.stringValue == "UP")
                #expect(
                    first.json?["apis"]?["events"]?["endpoints"]?.arrayValue?.first?["type"]?.stringValue == "kafka")
                #expect(try await httpCall(.POST, "\(gateway.baseURL)/events", body: "m0").status == 202)
                let metrics = try await httpCall(.GET, "http://127.0.0.1:\(port)/metrics").body
                #expect(
                    metrics.contains(#"sluice_endpoint_connected{api="events",endpoint="default",type="kafka"} 1"#),
                    "\(metrics)")

                await broker.halt()
                let down = try await eventually(timeout: .seconds(30), interval: .milliseconds(300)) {
                    let response = try await httpCall(.GET, ready)
                    return response.status == 503 ? response : nil
                }
                #expect(down.json?["status"]?.stringValue == "DOWN")
                #expect(
                    down.json?["apis"]?["events"]?["endpoints"]?.arrayValue?.first?["status"]?.stringValue == "DOWN",
                    "\(down.body)")
                // Liveness does not depend on the broker.
                #expect(try await httpCall(.GET, "http://127.0.0.1:\(port)/health/live").status == 200)

                try await broker.relaunch()
                let up = try await eventually(timeout: .seconds(60), interval: .milliseconds(500)) {
                    let response = try await httpCall(.GET, ready)
                    return response.status == 200 ? response : nil
                }
                #expect(up.json?["status"]?.stringValue == "UP")
            }
        }
    }

    @Test("consumer lag per partition: a stream that has read everything published is at 0")
    func consumerLag() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("lag")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            let api = KafkaAPI.definition(
                id: "events", path: "/events", bootstrap: broker.bootstrap,
                entrypoints: """
                    [\(KafkaAPI.entrypoint("http-post", qos: "auto")), \(KafkaAPI.entrypoint("sse", qos: "auto"))]
                    """,
                shared: "{ \(KafkaAPI.consumer(topic)), \(KafkaAPI.producer(topic)) }")
            try await withKafkaGateway(["events.json": api], configure: { $0.metricsPort = 0 }) { gateway in
                let port = try #require(await gateway.gateway.metricsPort())
                for index in 0..<3 {
                    #expect(try await httpCall(.POST, "\(gateway.baseURL)/events", body: "m\(index)").status == 202)
                }
                let stream = try await RawSSEClient.open(
                    port: gateway.port, path: "/events", headers: [("X-Gravitee-Client-Identifier", "lag-client")])
                #expect(try await stream.messages(3).compactMap(\.data) == ["m0", "m1", "m2"])
                let sample =
                    #"sluice_kafka_consumer_lag{api="events",endpoint="default",topic="\#(topic)",partition="0"} "#
                let text = try await eventually(timeout: .seconds(20), interval: .milliseconds(200)) {
                    let text = try await httpCall(.GET, "http://127.0.0.1:\(port)/metrics").body
                    return text.contains(sample) ? text : nil
                }
                #expect(text.contains(sample + "0"), "\(text)")
                let sse = #"api="events",plan="#
                #expect(text.contains(sse), "request series of the API are there too")
                await stream.close()
            }
        }
    }
}
