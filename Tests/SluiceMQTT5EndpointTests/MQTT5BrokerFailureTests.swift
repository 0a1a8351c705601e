import Foundation
import GatewayTestSupport
import HummingbirdWSClient
import Logging
import MQTT5TestSupport
import NIOCore
import NIOWebSocket
import SluiceEntrypoints
import Synchronization
import Testing

/// mosquitto stops while clients post and stream, then comes back: posts fail fast with 503, SSE streams end with
/// `event: error`, WebSocket subscribers are closed with 1011, and once the broker is back the gateway reconnects
/// by itself and streaming resumes.
@Suite(
    "mqtt5 endpoint: broker failure and return", .serialized,
    .enabled(if: MQTT5EndpointTestEnvironment.enabled, MQTT5EndpointTestEnvironment.skipReason))
struct MQTT5BrokerFailureTests {
    static let logger = Logger(label: "mqtt5-failure-test")

    @Test(
        "broker stopped: 503 MQTT5_UNAVAILABLE at once, SSE event: error, WebSocket close 1011; broker back: posts succeed and streams resume"
    )
    func brokerStopsAndReturns() async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("failure")
            let api = MQTT5API.definition(
                id: "events", path: "/events", port: broker.port,
                entrypoints: """
                    [\(MQTT5API.entrypoint("http-post", qos: "auto")),
                     \(MQTT5API.entrypoint("http-get", qos: "auto", configuration: #"{ "messagesLimitDurationMs": 500 }"#)),
                     \(MQTT5API.entrypoint("sse", qos: "auto", configuration: #"{ "heartbeatIntervalInMs": 1000 }"#)),
                     \(MQTT5API.entrypoint("websocket", qos: "auto", configuration: #"{ "publisher": { "enabled": false } }"#))]
                    """,
                shared: "{ \(MQTT5API.consumer(topic)), \(MQTT5API.producer(topic)) }")
            try await withMQTT5Gateway(["events.json": api]) { gateway in
                let url = "\(gateway.baseURL)/events"
                let stream = try await RawSSEClient.open(
                    port: gateway.port, path: "/events", headers: [("X-Gravitee-Client-Identifier", "sse-client")])
                let webSocketCount = Mutex(0)
                let webSocket = Task {
                    try await WebSocketClient.connect(url: "ws://127.0.0.1:\(gateway.port)/events", logger: Self.logger)
                    {
                        inbound, _, _ in
                        for try await _ in inbound.messages(maxSize: 1 << 20) { webSocketCount.withLock { $0 += 1 } }
                    }
                }
                // Posts go through the broker to both subscribers.
                try await Task.sleep(for: .milliseconds(500))
                for index in 0..<2 {
                    let response = try await httpCall(.POST, url, body: "m\(index)")
                    #expect(response.status == 202, "\(response.body)")
                }
                let before = try await stream.messages(2)
                #expect(before.compactMap(\.data) == ["m0", "m1"])
                _ = try await eventually(timeout: .seconds(20)) { webSocketCount.withLock { $0 } >= 2 ? true : nil }
                // It has no identifier of its own: it reads the shared tail, from its connection's event loop.
                #expect(WebSocketEntrypoint.ringStreamsActive == 1)

                await broker.stopProcess(graceful: true)

                // A publish fails fast with a clear status, never 202.
                let started = ContinuousClock.now
                let refused = try await httpCall(.POST, url, body: "lost")
                #expect(refused.status == 503, "\(refused.body)")
                #expect(refused.json?["key"]?.stringValue == "MQTT5_UNAVAILABLE")
                #expect(ContinuousClock.now - started < .seconds(3), "took \(ContinuousClock.now - started)")
                // A poll and a new stream too.
                let polled = try await httpCall(.GET, url, headers: [("Accept", "application/json")])
                #expect(polled.status == 503, "\(polled.body)")

                // The open SSE stream ends with an error event; the WebSocket with 1011.
                let error = try await stream.nextEvent(timeout: .seconds(20))
                #expect(error?.event == "error", "\(String(describing: error))")
                #expect(error?.data?.contains("MQTT") == true, "\(String(describing: error))")
                let close = try await within(.seconds(20), "the WebSocket close") { try await webSocket.value }
                #expect(close?.closeCode == .unexpectedServerError)
                #expect(close?.reason?.hasPrefix("MQTT5_UNAVAILABLE") == true, "\(String(describing: close?.reason))")
                await stream.close()

                try await broker.startAgain()

                // The gateway reconnects by itself: a publish goes through again.
                let accepted = try await eventually(timeout: .seconds(30), interval: .milliseconds(250)) {
                    let response = try await httpCall(.POST, url, body: "probe")
                    return response.status == 202 ? response : nil
                }
                #expect(accepted.status == 202)
                // A client that reconnects streams again.
                let resumed = try await RawSSEClient.open(
                    port: gateway.port, path: "/events", headers: [("X-Gravitee-Client-Identifier", "sse-client")])
                #expect(resumed.status == 200)
                try await Task.sleep(for: .milliseconds(300))
                #expect(try await httpCall(.POST, url, body: "m2").status == 202)
                let after = try await resumed.messages(1)
                #expect(after.compactMap(\.data) == ["m2"])
                await resumed.close()
            }
        }
    }

    @Test(
        "reconnectAttempts bounds how long a stream waits for its broker: 0 ends it at the first failed reconnection, 10 after the 2 s grace"
    )
    func reconnectAttempts() async throws {
        try await withMosquitto { broker in
            func api(_ id: String, attempts: Int) -> String {
                MQTT5API.definition(
                    id: id, path: "/\(id)", port: broker.port,
                    entrypoints: "[\(MQTT5API.entrypoint("sse", qos: "auto"))]",
                    shared: "{ \"reconnectAttempts\": \(attempts), \(MQTT5API.consumer(uniqueTopic(id))) }")
            }
            try await withMQTT5Gateway(["zero.json": api("zero", attempts: 0), "ten.json": api("ten", attempts: 10)]) {
                gateway in
                let zero = try await RawSSEClient.open(port: gateway.port, path: "/zero")
                let ten = try await RawSSEClient.open(port: gateway.port, path: "/ten")
                #expect(zero.status == 200 && ten.status == 200)
                let started = ContinuousClock.now
                await broker.stopProcess(graceful: true)
                async let zeroEnd = Self.errorEvent(zero, since: started)
                async let tenEnd = Self.errorEvent(ten, since: started)
                let (zeroAfter, tenAfter) = try await (zeroEnd, tenEnd)
                #expect(zeroAfter < .milliseconds(1800), "0 attempts: error after \(zeroAfter)")
                #expect(
                    tenAfter >= .milliseconds(1900) && tenAfter < .seconds(6), "10 attempts: error after \(tenAfter)")
                await zero.close()
                await ten.close()
            }
        }
    }

    /// Waits for the stream's `event: error` (skipping heartbeats); returns how long after `since` it came.
    static func errorEvent(_ stream: RawSSEClient, since: ContinuousClock.Instant) async throws -> Duration {
        while true {
            guard let event = try await stream.next(timeout: .seconds(15)) else {
                throw HarnessFailure("the stream ended without an error event")
            }
            if event.event == "error" { return ContinuousClock.now - since }
        }
    }

    @Test("a broker that stops answering: 504 MQTT5_TIMEOUT after 10 s, never 202; it answers again: 202")
    func brokerHangs() async throws {
        try await withMosquitto { broker in
            let topic = uniqueTopic("hang")
            let api = MQTT5API.definition(
                id: "hang", path: "/hang", port: broker.port,
                entrypoints: "[\(MQTT5API.entrypoint("http-post", qos: "auto"))]",
                shared: "{ \(MQTT5API.producer(topic)) }")
            try await withMQTT5Gateway(["hang.json": api]) { gateway in
                let url = "\(gateway.baseURL)/hang"
                #expect(try await httpCall(.POST, url, body: "before").status == 202)
                broker.pause()
                let started = ContinuousClock.now
                let timedOut = try await httpCall(.POST, url, body: "unanswered")
                let waited = ContinuousClock.now - started
                broker.resume()
                #expect(timedOut.status == 504, "\(timedOut.body)")
                #expect(timedOut.json?["key"]?.stringValue == "MQTT5_TIMEOUT")
                #expect(waited >= .seconds(9) && waited < .seconds(15), "waited \(waited)")
                let after = try await eventually(timeout: .seconds(20), interval: .milliseconds(250)) {
                    let response = try await httpCall(.POST, url, body: "after")
                    return response.status == 202 ? response : nil
                }
                #expect(after.status == 202)
            }
        }
    }

    @Test("no broker at the configured address: 503 MQTT5_UNAVAILABLE for posts, polls and streams, within seconds")
    func noBroker() async throws {
        let port = try freeLoopbackPort()
        let api = MQTT5API.definition(
            id: "nobroker", path: "/nobroker", port: port,
            entrypoints: """
                [\(MQTT5API.entrypoint("http-post", qos: "auto")), \(MQTT5API.entrypoint("sse", qos: "auto"))]
                """,
            shared: "{ \(MQTT5API.consumer("t")), \(MQTT5API.producer("t")) }")
        try await withMQTT5Gateway(["nobroker.json": api]) { gateway in
            let started = ContinuousClock.now
            let posted = try await httpCall(.POST, "\(gateway.baseURL)/nobroker", body: "x")
            #expect(posted.status == 503, "\(posted.body)")
            #expect(posted.json?["key"]?.stringValue == "MQTT5_UNAVAILABLE")
            let stream = try await RawSSEClient.open(port: gateway.port, path: "/nobroker")
            #expect(stream.status == 503)
            await stream.close()
            #expect(ContinuousClock.now - started < .seconds(5), "took \(ContinuousClock.now - started)")
        }
    }
}
