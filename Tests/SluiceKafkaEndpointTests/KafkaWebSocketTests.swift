import Foundation
import GatewayTestSupport
import HummingbirdWSClient
import KafkaTestSupport
import Logging
import NIOCore
import NIOWebSocket
import Synchronization
import Testing

/// WebSocket subscribers of a real broker: what librdkafka produces arrives as frames, and frames sent go to Kafka.
@Suite("kafka endpoint: subscribing over WebSocket", .serialized)
struct KafkaWebSocketTests {
    let oracle = LibrdkafkaOracle()
    static let logger = Logger(label: "kafka-ws-test")

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
                let received = Mutex<[WebSocketMessage]>([])
                let close = try await within(.seconds(60), "the websocket session") {
                    try await WebSocketClient.connect(
                        url: "ws://127.0.0.1:\(gateway.port)/ws?X-Gravitee-Client-Identifier=ws-\(qos)",
                        logger: Self.logger
                    ) { inbound, outbound, _ in
                        var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                        for _ in 0..<3 {
                            if let message = try await iterator.next() { received.withLock { $0.append(message) } }
                        }
                        try await outbound.write(.text("from the socket"))
                        if let echoed = try await iterator.next() { received.withLock { $0.append(echoed) } }
                        try await outbound.close(.normalClosure, reason: nil)
                    }
                }
                #expect(close?.closeCode == .normalClosure)
                #expect(
                    received.withLock { $0 } == [
                        .text("one"), .text("two"), .binary(ByteBuffer(bytes: [0xC3, 0x28])), .text("from the socket"),
                    ])
                let records = try await oracle.consume(bootstrap: broker.bootstrap, topic: topic, count: 4)
                #expect(records.last?.value == Array("from the socket".utf8))
            }
        }
    }
}
