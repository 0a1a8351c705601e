import AsyncHTTPClient
import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import SluiceCore
import Synchronization
import Testing

import class GatewayTestSupport.TestWebSocket
import func GatewayTestSupport.rawExchangeBytes

@Suite("websocket entrypoint")
struct WebSocketEntrypointTests {
    static let logger = Logger(label: "ws-test")

    @Test("frames in are published; messages out are frames, text for UTF-8 and binary otherwise")
    func publishAndSubscribe() async throws {
        try await withGateway(["events.json": Definitions.inMemory()]) { (gateway: TestGateway) async throws in
            let received = Mutex<[WebSocketMessage]>([])
            let close = try await within(.seconds(20)) {
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(gateway.port)/events", logger: Self.logger) {
                    inbound, outbound, _ in
                    try await outbound.write(.text("from websocket"))
                    // Wait until the gateway has it, then publish over HTTP: both come back on this socket.
                    var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    let echoed = try await iterator.next()
                    received.withLock { $0.append(echoed!) }
                    _ = try await httpCall(.POST, "\(gateway.baseURL)/events", body: "from http")
                    var request = HTTPBody.nonUTF8
                    _ = try await sendBytes(to: "\(gateway.baseURL)/events", &request)
                    for _ in 0..<2 {
                        if let message = try await iterator.next() { received.withLock { $0.append(message) } }
                    }
                    try await outbound.close(.normalClosure, reason: nil)
                }
            }
            let messages = received.withLock { $0 }
            #expect(messages.count == 3)
            if messages.count == 3 {
                #expect(messages[0] == .text("from websocket"))
                #expect(messages[1] == .text("from http"))
                #expect(messages[2] == .binary(ByteBuffer(bytes: HTTPBody.nonUTF8)))
            }
            #expect(close?.closeCode == .normalClosure)
            let poll = try await httpCall(
                .GET, "\(gateway.baseURL)/events?limit=1", headers: [("Accept", "application/json")])
            #expect(poll.json?["items"]?.arrayValue?.first?["content"]?.stringValue == "from websocket")
        }
    }

    /// The mock starts sending right after the upgrade, so the frames can arrive with the 101 answer: the test's
    /// own client keeps every byte (HummingbirdWSClient was seen to lose such frames when many connect at once).
    @Test("a finite mock stream ends with close 1000")
    func finiteMock() async throws {
        try await withGateway(["mock.json": Definitions.mock(interval: 5, count: 3)]) {
            (gateway: TestGateway) async throws in
            let (messages, close) = try await within(.seconds(20)) {
                try await TestWebSocket.session(port: gateway.port, path: "/mock") { socket in
                    let (messages, close) = try await socket.readUntilClose()
                    return (messages, close?.code)
                }
            }
            #expect(messages == Array(repeating: .text("mock message"), count: 3))
            #expect(close == 1000)
        }
    }

    @Test("a message over the limit closes the socket with 1009, and is not published")
    func tooBig() async throws {
        try await withGateway(["events.json": Definitions.inMemory()], configure: { $0.limits.maxMessageBytes = 1024 })
        { (gateway: TestGateway) async throws in
            let close = try await within(.seconds(20)) {
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(gateway.port)/events", logger: Self.logger) {
                    inbound, outbound, _ in
                    try await outbound.write(.text(String(repeating: "x", count: 4096)))
                    for try await _ in inbound {}
                }
            }
            #expect(close?.closeCode == .messageTooLarge)
            let poll = try await httpCall(.GET, "\(gateway.baseURL)/events", headers: [("Accept", "application/json")])
            #expect(poll.json?["items"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test("an upgrade on a path without an API, or on an API without websocket, is closed with 1008 and the reason")
    func refused() async throws {
        let sseOnly = Definitions.mock(entrypoints: #"[{ "type": "sse" }]"#)
        try await withGateway(["mock.json": sseOnly]) { (gateway: TestGateway) async throws in
            for (path, key) in [("/nothing", "GATEWAY_API_NOT_FOUND"), ("/mock", "GATEWAY_NO_ENTRYPOINT_MATCHED")] {
                let handshake =
                    "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                let bytes = try await within(.seconds(20)) {
                    try await rawExchangeBytes(port: gateway.port, Array(handshake.utf8), timeout: .seconds(2))
                }
                #expect(String(decoding: bytes.prefix(13), as: UTF8.self) == "HTTP/1.1 101 ", "\(path)")
                // After the handshake: a close frame (0x88) whose payload is the code 1008 (0x03F0) and the reason.
                let separator: [UInt8] = Array("\r\n\r\n".utf8)
                guard let end = (0..<max(0, bytes.count - 3)).first(where: { Array(bytes[$0..<$0 + 4]) == separator })
                else {
                    Issue.record("\(path): no end of handshake")
                    continue
                }
                let frame = Array(bytes[(end + 4)...])
                #expect(
                    frame.count > 4 && frame[0] == 0x88 && frame[2] == 0x03 && frame[3] == 0xF0,
                    "\(path): \(frame.prefix(4))")
                #expect(String(decoding: frame.dropFirst(4), as: UTF8.self).hasPrefix(key), "\(path)")
            }
        }
    }

    @Test("with the publisher disabled, frames in are dropped")
    func publisherDisabled() async throws {
        let definition = Definitions.inMemory(
            entrypoints: """
                [{ "type": "websocket", "configuration": { "publisher": { "enabled": false } } },
                 { "type": "http-get", "configuration": { "messagesLimitDurationMs": 200 } }]
                """)
        try await withGateway(["events.json": definition]) { (gateway: TestGateway) async throws in
            _ = try await within(.seconds(20)) {
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(gateway.port)/events", logger: Self.logger) {
                    _, outbound, _ in
                    try await outbound.write(.text("dropped"))
                    try await Task.sleep(for: .milliseconds(200))
                    try await outbound.close(.normalClosure, reason: nil)
                }
            }
            let poll = try await httpCall(.GET, "\(gateway.baseURL)/events", headers: [("Accept", "application/json")])
            #expect(poll.json?["items"]?.arrayValue?.isEmpty == true)
        }
    }
}

enum HTTPBody {
    /// Bytes that are not valid UTF-8.
    static let nonUTF8: [UInt8] = [0xFF, 0xFE, 0x00, 0x80, 0x41]
}

/// POSTs raw bytes.
func sendBytes(to url: String, _ bytes: inout [UInt8]) async throws -> Int {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.body = .bytes(ByteBuffer(bytes: bytes))
    let response = try await testHTTPClient.execute(request, timeout: .seconds(10))
    _ = try await response.body.collect(upTo: 1 << 20)
    return Int(response.status.code)
}
