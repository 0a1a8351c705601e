import Foundation
import GatewayTestSupport
import KafkaTestSupport
import SluiceEntrypoints
import Synchronization
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

    @Test(
        "websocket subscribers with made-up identifiers share the tail: each gets every record in order, text or binary, from the event loop"
    )
    func sharedTail() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("ws-tail")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            let api = KafkaAPI.definition(
                id: "ws", path: "/ws", bootstrap: broker.bootstrap,
                entrypoints: "[\(KafkaAPI.entrypoint("websocket", qos: "none"))]",
                shared: "{ \(KafkaAPI.consumer(topic, reset: "latest")) }")
            // Every fifth record is not UTF-8 (a binary frame); one is larger than a short frame header holds.
            let count = 300
            let values: [[UInt8]] = (0..<count).map { index in
                if index % 5 == 4 { return [0xC3, 0x28, UInt8(index % 256)] }
                return Array("record \(index)".utf8)
                    + (index == 7 ? Array(repeating: UInt8(ascii: "x"), count: 70_000) : [])
            }
            let expected: [TestWebSocket.Message] = values.enumerated().map { index, value in
                index % 5 == 4 ? .binary(value) : .text(String(decoding: value, as: UTF8.self))
            }
            let subscribers = 20
            try await withKafkaGateway(["ws.json": api]) { gateway in
                let port = gateway.port
                let bootstrap = broker.bootstrap
                let oracle = oracle
                let received = try await within(.seconds(120), "the websocket sessions") {
                    try await withThrowingTaskGroup(of: [TestWebSocket.Message]?.self) { group in
                        for _ in 0..<subscribers {
                            group.addTask {
                                // No identifier: the gateway makes one up, and the stream reads the shared tail.
                                try await TestWebSocket.session(port: port, path: "/ws") { socket in
                                    var messages: [TestWebSocket.Message] = []
                                    while messages.count < count,
                                        case .message(let message)? = try await socket.next()
                                    {
                                        messages.append(message)
                                    }
                                    try await socket.close()
                                    return messages
                                }
                            }
                        }
                        group.addTask {
                            // Once every subscriber reads the tail from the event loop (they start at its end).
                            _ = try await eventually(timeout: .seconds(60)) {
                                WebSocketEntrypoint.ringStreamsActive >= subscribers ? true : nil
                            }
                            _ = try await oracle.produce(
                                bootstrap: bootstrap, topic: topic,
                                records: values.map { OracleRecord(key: nil, value: $0) })
                            return nil
                        }
                        var all: [[TestWebSocket.Message]] = []
                        for try await messages in group { if let messages { all.append(messages) } }
                        return all
                    }
                }
                #expect(received.count == subscribers)
                for messages in received {
                    #expect(messages.count == count)
                    #expect(messages == expected)
                }
            }
        }
    }

    @Test("the shared tail failing (broker gone) closes its websocket subscribers with 1011 and KAFKA_UNAVAILABLE")
    func sharedTailFailure() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("ws-tail-failure")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            let api = KafkaAPI.definition(
                id: "ws", path: "/ws", bootstrap: broker.bootstrap,
                entrypoints: "[\(KafkaAPI.entrypoint("websocket", qos: "auto"))]",
                shared: "{ \(KafkaAPI.consumer(topic, reset: "latest")) }")
            let subscribers = 3
            try await withKafkaGateway(["ws.json": api]) { gateway in
                let port = gateway.port
                let bootstrap = broker.bootstrap
                let oracle = oracle
                let closes = try await within(.seconds(90), "the websocket sessions") {
                    try await withThrowingTaskGroup(of: (UInt16?, String, [TestWebSocket.Message])?.self) { group in
                        for _ in 0..<subscribers {
                            group.addTask {
                                try await TestWebSocket.session(port: port, path: "/ws") { socket in
                                    let (messages, close) = try await socket.readUntilClose()
                                    return (close?.code, close?.reason ?? "", messages)
                                }
                            }
                        }
                        group.addTask {
                            _ = try await eventually(timeout: .seconds(60)) {
                                WebSocketEntrypoint.ringStreamsActive >= subscribers ? true : nil
                            }
                            _ = try await oracle.produce(
                                bootstrap: bootstrap, topic: topic,
                                records: [OracleRecord(key: nil, value: Array("before".utf8))])
                            // Every subscriber has had it before the broker goes.
                            try await Task.sleep(for: .seconds(1))
                            await broker.halt()
                            return nil
                        }
                        var closes: [(UInt16?, String, [TestWebSocket.Message])] = []
                        for try await close in group { if let close { closes.append(close) } }
                        return closes
                    }
                }
                #expect(closes.count == subscribers)
                for (code, reason, messages) in closes {
                    #expect(messages == [.text("before")])
                    #expect(code == 1011)
                    #expect(reason.hasPrefix("KAFKA_UNAVAILABLE"), "\(reason)")
                }
                #expect(WebSocketEntrypoint.ringStreamsActive == 0)
            }
        }
    }

    @Test(
        "a websocket subscriber that does not read falls behind the tail without holding back the others, then continues exactly where it stands on a consumer of its own"
    )
    func sharedTailSlowSubscriber() async throws {
        try await withTansuBroker { broker in
            let topic = uniqueTopic("ws-tail-slow")
            try await oracle.createTopic(bootstrap: broker.bootstrap, topic: topic, partitions: 1)
            let api = KafkaAPI.definition(
                id: "ws", path: "/ws", bootstrap: broker.bootstrap,
                entrypoints: "[\(KafkaAPI.entrypoint("websocket", qos: "none"))]",
                shared: "{ \(KafkaAPI.consumer(topic, reset: "latest")) }")
            // The tail keeps 10,000; the sockets and the client's buffers hold a few thousand of these: the one that
            // does not read is still far behind when the ring has moved on.
            let count = 20_000
            let filler = String(repeating: "f", count: 2_000)
            let fastDone = Flag()
            try await withKafkaGateway(["ws.json": api]) { gateway in
                let port = gateway.port
                let bootstrap = broker.bootstrap
                let oracle = oracle
                let seen = try await within(.seconds(180), "the websocket sessions") {
                    try await withThrowingTaskGroup(of: (slow: Bool, count: Int)?.self) { group in
                        for slow in [true, false] {
                            group.addTask {
                                try await TestWebSocket.session(port: port, path: "/ws") { socket in
                                    if slow {
                                        while !fastDone.isSet {
                                            try await Task.sleep(for: .milliseconds(50))
                                        }
                                    }
                                    var next = 0
                                    while next < count, case .message(.text(let text))? = try await socket.next() {
                                        guard text.hasPrefix("v\(next) ") else {
                                            Issue.record("expected v\(next), got \(text.prefix(12))")
                                            break
                                        }
                                        next += 1
                                    }
                                    if !slow { fastDone.set() }
                                    if slow {
                                        // It left the ring for a consumer of its own (the other one has gone).
                                        #expect(WebSocketEntrypoint.ringStreamsActive == 0)
                                    }
                                    try await socket.close()
                                    return (slow, next)
                                }
                            }
                        }
                        group.addTask {
                            _ = try await eventually(timeout: .seconds(60)) {
                                WebSocketEntrypoint.ringStreamsActive >= 2 ? true : nil
                            }
                            _ = try await oracle.produce(
                                bootstrap: bootstrap, topic: topic,
                                records: (0..<count).map { OracleRecord(key: nil, value: "v\($0) \(filler)") })
                            return nil
                        }
                        var seen: [Bool: Int] = [:]
                        for try await result in group { if let result { seen[result.slow] = result.count } }
                        return seen
                    }
                }
                #expect(seen[false] == count, "the reader")
                #expect(seen[true] == count, "the one that did not read at first")
            }
        }
    }
}

/// A flag one task sets and others watch.
final class Flag: Sendable {
    private let value = Mutex(false)

    func set() { value.withLock { $0 = true } }

    var isSet: Bool { value.withLock { $0 } }
}
