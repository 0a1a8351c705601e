import Foundation
import NIOCore
import SluiceCore
import SluiceEndpoints
import SluiceEntrypoints
import Synchronization
import Testing

import class GatewayTestSupport.TestWebSocket

/// WebSocket subscribers of the embedded log are served by their connection's event loop from the topic, with
/// frames encoded once for all of them (WebSocketRingStream, RingBatchCache): the shared tails of the broker
/// endpoints take the same path (their suites check it against real brokers).
@Suite("websocket subscribers from a ring")
struct WebSocketRingStreamTests {
    /// Message `index`: mostly text, every fourth not UTF-8 (binary), and a few whose lengths take each of the
    /// frame header's three length forms.
    static func content(_ index: Int) -> [UInt8] {
        let size: Int
        switch index {
        case 5: size = 125
        case 6: size = 126
        case 7: size = 65_535
        case 9: size = 70_000
        default: size = 8 + index % 50
        }
        var bytes = Array(("m" + padded(index) + "-").utf8)
        bytes += Array(repeating: UInt8(ascii: "x"), count: max(0, size - bytes.count))
        if index % 4 == 3 { bytes[bytes.count - 1] = 0xFF }
        return bytes
    }

    static func expected(_ index: Int) -> TestWebSocket.Message {
        let bytes = content(index)
        return index % 4 == 3 ? .binary(bytes) : .text(String(decoding: bytes, as: UTF8.self))
    }

    static func publish(_ indices: Range<Int>, to gateway: TestGateway) async throws {
        for index in indices {
            var bytes = content(index)
            #expect(try await sendBytes(to: "\(gateway.baseURL)/events", &bytes) == 202)
        }
    }

    static func read(_ count: Int, from socket: TestWebSocket) async throws -> [TestWebSocket.Message] {
        var messages: [TestWebSocket.Message] = []
        while messages.count < count, case .message(let message)? = try await socket.next() {
            messages.append(message)
        }
        return messages
    }

    /// Opens `count` sockets on /events (each in a task of its own) and runs `body` with them.
    static func withSockets<Result: Sendable>(
        _ count: Int, port: Int, _ body: @escaping @Sendable (Int, TestWebSocket) async throws -> Result
    ) async throws -> [Result] {
        try await withThrowingTaskGroup(of: (Int, Result).self) { group in
            for index in 0..<count {
                group.addTask {
                    try await TestWebSocket.session(port: port, path: "/events") { socket in
                        (index, try await body(index, socket))
                    }
                }
            }
            var results: [(Int, Result)] = []
            for try await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    @Test(
        "many subscribers each get every message in order as the right frame, served from the log by the event loop"
    )
    func manySubscribers() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            // Half before the subscribers come (a backlog, from the earliest), half while they are open.
            try await Self.publish(0..<60, to: gateway)
            let subscribers = 40
            let opened = SharedCount()
            let port = gateway.port
            let received = try await within(.seconds(120)) {
                try await withThrowingTaskGroup(of: [[TestWebSocket.Message]].self) { group in
                    group.addTask {
                        try await Self.withSockets(subscribers, port: port) { _, socket in
                            let backlog = try await Self.read(60, from: socket)
                            opened.increment()
                            let live = try await Self.read(60, from: socket)
                            try await socket.close()
                            return backlog + live
                        }
                    }
                    group.addTask {
                        while opened.value < subscribers { try await Task.sleep(for: .milliseconds(20)) }
                        #expect(WebSocketEntrypoint.ringStreamsActive >= subscribers)
                        try await Self.publish(60..<120, to: gateway)
                        return []
                    }
                    var results: [[TestWebSocket.Message]] = []
                    for try await result in group where !result.isEmpty { results = result }
                    return results
                }
            }
            let expected = (0..<120).map(Self.expected)
            #expect(received.count == subscribers)
            for (index, messages) in received.enumerated() {
                #expect(messages.count == expected.count, "subscriber \(index)")
                #expect(messages == expected, "subscriber \(index)")
            }
        }
    }

    @Test("a subscriber that does not read holds back no one, and gets everything in order once it reads")
    func slowSubscriber() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            let count = 1_500
            let size = 16 * 1024
            let port = gateway.port
            let payload = { @Sendable (index: Int) -> [UInt8] in
                Array(padded(index).utf8) + Array(repeating: UInt8(ascii: "s"), count: size - 6)
            }
            let slowOpened = SharedCount()
            let fastDone = SharedCount()
            let slowSeen = try await within(.seconds(120)) {
                try await withThrowingTaskGroup(of: Int?.self) { group in
                    // Opens, reads nothing until the others have had all (24 MiB: more than the socket buffers
                    // hold), then reads everything.
                    group.addTask {
                        try await TestWebSocket.session(port: port, path: "/events") { socket in
                            slowOpened.increment()
                            while fastDone.value < 2 { try await Task.sleep(for: .milliseconds(20)) }
                            var next = 0
                            while next < count, case .message(.text(let text))? = try await socket.next() {
                                #expect(text.prefix(6) == padded(next))
                                if text.prefix(6) != padded(next) { break }
                                next += 1
                            }
                            try await socket.close()
                            return next
                        }
                    }
                    for _ in 0..<2 {
                        group.addTask {
                            try await TestWebSocket.session(port: port, path: "/events") { socket in
                                var next = 0
                                while next < count, case .message(.text(let text))? = try await socket.next() {
                                    if text.prefix(6) != padded(next) { break }
                                    next += 1
                                }
                                #expect(next == count)
                                fastDone.increment()
                                try await socket.close()
                                return nil
                            }
                        }
                    }
                    group.addTask {
                        while slowOpened.value < 1 { try await Task.sleep(for: .milliseconds(20)) }
                        for index in 0..<count {
                            var bytes = payload(index)
                            _ = try await sendBytes(to: "\(gateway.baseURL)/events", &bytes)
                        }
                        return nil
                    }
                    var slow: Int?
                    for try await result in group { if let result { slow = result } }
                    return slow
                }
            }
            #expect(slowSeen == count)
        }
    }

    @Test(
        "a close while frames flow (the client's, the gateway's drain): the close frame comes after the last data frame"
    )
    func closeWhileStreaming() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            // Publishers keep appending while sockets open, read a little and close: a stream that wrote on after
            // the close frame went out would put frames after it.
            let flooding = SharedCount()
            let url = "\(gateway.baseURL)/events"
            let flood = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for publisher in 0..<4 {
                        group.addTask {
                            var index = 0
                            while flooding.value == 0 {
                                var bytes = Array("p\(publisher)-\(index)".utf8)
                                _ = try await sendBytes(to: url, &bytes)
                                index += 1
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            defer { flooding.increment() }
            for round in 0..<20 {
                let (close, after) = try await within(.seconds(30)) {
                    try await TestWebSocket.session(port: gateway.port, path: "/events") { socket in
                        _ = try await Self.read(20 + round * 10, from: socket)
                        try await socket.sendClose(code: 1000)
                        let (_, close) = try await socket.readUntilClose()
                        return (close?.code, try await socket.next())
                    }
                }
                #expect(close == 1000)
                #expect(after == nil, "nothing after the close frame (round \(round))")
            }
            // The gateway's drain closes with 1001, also while frames flow.
            let drained = Task {
                try await TestWebSocket.session(port: gateway.port, path: "/events") { socket in
                    _ = try await Self.read(100, from: socket)
                    let (_, close) = try await socket.readUntilClose()
                    return (close?.code, try await socket.next())
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            flooding.increment()
            try await flood.value
            try await gateway.stop()
            let (code, after) = try await drained.value
            #expect(code == 1001)
            #expect(after == nil, "nothing after the drain's close frame")
        }
    }
}

/// `index` in six digits, zero-padded.
func padded(_ index: Int) -> String {
    let digits = String(index)
    return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
}

/// A count shared by a test's tasks.
final class SharedCount: Sendable {
    private let count = Mutex(0)

    func increment() { count.withLock { $0 += 1 } }

    var value: Int { count.withLock { $0 } }
}
