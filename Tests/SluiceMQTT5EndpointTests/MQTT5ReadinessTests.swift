import Foundation
import GatewayTestSupport
import MQTT5TestSupport
import SluiceGateway
import Testing

/// `/health/ready` on the metrics listener follows the MQTT 5 broker: ready while connected, 503 with the endpoint
/// named DOWN once mosquitto has gone, ready again when it is back.
@Suite(
    "mqtt5 endpoint: readiness follows the broker", .serialized,
    .enabled(if: MQTT5EndpointTestEnvironment.enabled, MQTT5EndpointTestEnvironment.skipReason))
struct MQTT5ReadinessTests {
    @Test("ready with the broker up, 503 while it is away, ready again once it is back")
    func readinessFlips() async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("ready")
            let api = MQTT5API.definition(
                id: "events", path: "/events", port: broker.port,
                entrypoints: "[\(MQTT5API.entrypoint("http-post", qos: "auto"))]",
                shared: "{ \(MQTT5API.producer(topic)) }")
            try await withMQTT5Gateway(["events.json": api], configure: { $0.metricsPort = 0 }) { gateway in
                let port = try #require(await gateway.gateway.metricsPort())
                let ready = "http://127.0.0.1:\(port)/health/ready"
                let first = try await eventually(timeout: .seconds(20), interval: .milliseconds(200)) {
                    let response = try await httpCall(.GET, ready)
                    return response.status == 200 ? response : nil
                }
                #expect(
                    first.json?["apis"]?["events"]?["endpoints"]?.arrayValue?.first?["type"]?.stringValue == "mqtt5")

                await broker.stopProcess(graceful: true)
                let down = try await eventually(timeout: .seconds(30), interval: .milliseconds(300)) {
                    let response = try await httpCall(.GET, ready)
                    return response.status == 503 ? response : nil
                }
                #expect(down.json?["status"]?.stringValue == "DOWN", "\(down.body)")
                let metrics = try await httpCall(.GET, "http://127.0.0.1:\(port)/metrics").body
                #expect(
                    metrics.contains(#"sluice_endpoint_connected{api="events",endpoint="default",type="mqtt5"} 0"#),
                    "\(metrics)")
                #expect(try await httpCall(.GET, "http://127.0.0.1:\(port)/health/live").status == 200)

                try await broker.startAgain()
                let up = try await eventually(timeout: .seconds(60), interval: .milliseconds(500)) {
                    let response = try await httpCall(.GET, ready)
                    return response.status == 200 ? response : nil
                }
                #expect(up.json?["status"]?.stringValue == "UP")
            }
        }
    }
}
