import Foundation
import GatewayTestSupport
import HummingbirdWSClient
import KafkaTestSupport
import Logging
import NIOCore
import NIOWebSocket
import Testing

/// Publishing through the gateway to a real broker (tansu), checked on the broker side with librdkafka.
@Suite("kafka endpoint: publishing over http-post and WebSocket", .serialized)
struct KafkaPublishTests {
    let oracle = LibrdkafkaOracle()
    static let logger = Logger(label: "kafka-publish-test")

    @Test(
        "http-post × none and auto: 202 once stored; librdkafka reads the same content and headers",
        arguments: ["none", "auto"])
    func httpPost(qos: String) async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("post")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 3)
            let api = KafkaAPI.definition(
                id: "orders", path: "/orders", bootstrap: broker.bootstrap,
                entrypoints:
                    "[\(KafkaAPI.entrypoint("http-post", qos: qos, configuration: #"{ "requestHeadersToMessage": true }"#))]",
                shared: "{ \(KafkaAPI.producer(topic)) }")
            try await withKafkaGateway(["orders.json": api]) { gateway in
                let response = try await httpCall(
                    .POST, "\(gateway.baseURL)/orders",
                    headers: [("X-Order", "42"), ("X-Gravitee-Client-Identifier", "client-a")], body: #"{"order":1}"#)
                #expect(response.status == 202, "\(response.body)")
                #expect(response.header("X-Gravitee-Client-Identifier") == "client-a")

                // Many at once: each 202 stands for a stored record.
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<20 {
                        group.addTask {
                            try await httpCall(.POST, "\(gateway.baseURL)/orders", body: "message \(index)").status
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.allSatisfy { $0 == 202 })

                let records = try await oracle.consume(bootstrap: broker.bootstrap, topic: topic, count: 21)
                #expect(records.count == 21)
                let first = try #require(records.first { $0.value == Array(#"{"order":1}"#.utf8) })
                let headers = Dictionary(
                    (first.headers ?? []).map {
                        ($0.key.lowercased(), $0.value.map { String(decoding: $0, as: UTF8.self) })
                    },
                    uniquingKeysWith: { a, _ in a })
                #expect(headers["x-order"] == "42")
                #expect(headers["x-gravitee-client-identifier"] == "client-a")
                #expect(first.key == nil, "no record key without the gravitee.attribute.kafka.recordKey attribute")
                let values = Set(records.compactMap { $0.value.map { String(decoding: $0, as: UTF8.self) } })
                #expect(values == Set((0..<20).map { "message \($0)" } + [#"{"order":1}"#]))
            }
        }
    }

    @Test("pipelined requests on one connection are answered in order, each 202 after its record is stored")
    func pipelined() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("pipelined")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            let api = KafkaAPI.definition(
                id: "orders", path: "/orders", bootstrap: broker.bootstrap,
                entrypoints: "[\(KafkaAPI.entrypoint("http-post", qos: "auto"))]",
                shared: "{ \(KafkaAPI.producer(topic)) }")
            try await withKafkaGateway(["orders.json": api]) { gateway in
                // The first publish of a topic looks its partitions up (the waiting path); the ones after go
                // straight into the producer. A request that is not a publish sits between them.
                let requests =
                    "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
                    + "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nX-Gravitee-Client-Identifier: c2\r\n\r\ntwo"
                    + "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "POST /orders?X-Gravitee-Client-Identifier=c4 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nthree"
                    + "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nfour"
                let answer = try await within(.seconds(20)) {
                    try await rawExchange(port: gateway.port, Array(requests.utf8), timeout: .seconds(15))
                }
                let responses = answer.components(separatedBy: "HTTP/1.1 ").dropFirst()
                #expect(responses.map { String($0.prefix(3)) } == ["202", "202", "404", "202", "202"], "\(answer)")
                let echoed = responses.map {
                    $0.components(separatedBy: "\r\n").first {
                        $0.lowercased().hasPrefix("x-gravitee-client-identifier:")
                    }?.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) }
                }
                #expect(echoed[1] == "c2")
                #expect(echoed[3] == "c4")
                #expect(echoed[0] != nil && echoed[0] != echoed[4], "a made-up identifier per request")

                let records = try await oracle.consume(bootstrap: broker.bootstrap, topic: topic, count: 4)
                #expect(
                    records.compactMap { $0.value.map { String(decoding: $0, as: UTF8.self) } } == [
                        "one", "two", "three", "four",
                    ])
            }
        }
    }

    @Test("a publish to a topic that does not exist is refused with 404 KAFKA_TOPIC_NOT_FOUND")
    func missingTopic() async throws {
        try await withTansuBroker { broker in
            let api = KafkaAPI.definition(
                id: "missing", path: "/missing", bootstrap: broker.bootstrap,
                entrypoints: "[\(KafkaAPI.entrypoint("http-post", qos: "auto"))]",
                shared: "{ \(KafkaAPI.producer("no-such-topic")) }")
            try await withKafkaGateway(["missing.json": api]) { gateway in
                let response = try await httpCall(.POST, "\(gateway.baseURL)/missing", body: "x")
                #expect(response.status == 404)
                #expect(response.json?["key"]?.stringValue == "KAFKA_TOPIC_NOT_FOUND")
            }
        }
    }

    @Test(
        "websocket × none and auto: frames are published in order; librdkafka reads them", arguments: ["none", "auto"])
    func webSocketPublish(qos: String) async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("ws-publish")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            let api = KafkaAPI.definition(
                id: "ws", path: "/ws", bootstrap: broker.bootstrap,
                entrypoints: "[\(KafkaAPI.entrypoint("websocket", qos: qos))]",
                shared: "{ \(KafkaAPI.producer(topic)) }")
            try await withKafkaGateway(["ws.json": api]) { gateway in
                let close = try await within(.seconds(30), "websocket") {
                    try await WebSocketClient.connect(url: "ws://127.0.0.1:\(gateway.port)/ws", logger: Self.logger) {
                        _, outbound, _ in
                        for index in 0..<5 { try await outbound.write(.text("frame \(index)")) }
                        try await outbound.write(.binary(ByteBuffer(bytes: [0xFF, 0x00, 0xFE])))
                        // The publisher answers nothing on success: wait until librdkafka sees all of them.
                        _ = try await oracle.consume(bootstrap: broker.bootstrap, topic: topic, count: 6)
                        try await outbound.close(.normalClosure, reason: nil)
                    }
                }
                #expect(close?.closeCode == .normalClosure)
                let records = try await oracle.consume(bootstrap: broker.bootstrap, topic: topic, count: 6)
                #expect(records.map(\.value) == (0..<5).map { Array("frame \($0)".utf8) } + [[0xFF, 0x00, 0xFE]])
            }
        }
    }
}
