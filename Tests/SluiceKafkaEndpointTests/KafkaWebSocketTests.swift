import Foundation
import GatewayTestSupport
import KafkaTestSupport
import Testing

/// WebSocket subscribers of a real broker: what librdkafka produces arrives as frames, and frames sent go to Kafka.
@Suite("kafka endpoint: subscribing over WebSocket", .serialized)
struct KafkaWebSocketTests {
    let oracle = LibrdkafkaOracle()

    @Test(
        "websocket × none and auto: librdkafka's records arrive as frames; a frame sent is stored and read back",
        arguments: ["none", "auto"])
    func subscribe(qos: String) async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("ws")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            let api = KafkaAPI.definition(
                id: "ws", path: "/ws", bootstrap: broker.bootstrap,
                entrypoints: "[\(KafkaAPI.entrypoint("websocket", qos: qos))]",
                shared: "{ \(KafkaAPI.consumer(topic)), \(KafkaAPI.producer(topic)) }")
            try await withKafkaGateway(["ws.json": api]) { gateway in
                _ = try await oracle.produce(
                    bootstrap: broker.bootstrap, topic: topic,
                    records: [
                        OracleRecord(key: "a", value: "one"), OracleRecord(key: "b", value: "two"),
                        OracleRecord(key: nil, value: [0xC3, 0x28]),
                    ])
                let (received, close) = try await within(.seconds(60), "the websocket session") {
                    try await TestWebSocket.session(
                        port: gateway.port, path: "/ws?X-Gravitee-Client-Identifier=ws-\(qos)"
                    ) { socket in
                        var received: [TestWebSocket.Message] = []
                        while received.count < 3, case .message(let message)? = try await socket.next() {
                            received.append(message)
                        }
                        try await socket.send(.text("from the socket"))
                        if case .message(let echoed)? = try await socket.next() { received.append(echoed) }
                        try await socket.close()
                        return (received, socket.closeCode)
                    }
                }
                #expect(close == 1000)
                #expect(received == [.text("one"), .text("two"), .binary([0xC3, 0x28]), .text("from the socket")])
                let records = try await oracle.consume(bootstrap: broker.bootstrap, topic: topic, count: 4)
                #expect(records.last?.value == Array("from the socket".utf8))
            }
        }
    }
}
