import Crypto
import Foundation
import NIOCore
import NIOPosix

/// A minimal RFC 6455 client for the gateway's tests, over a plain NIO connection: the upgrade request, then
/// frames read as they come. It keeps every byte that arrives with or after the 101 answer, so a stream the
/// gateway starts at once (a finite mock, a broker's backlog) is seen whole however the bytes are split.
/// Server frames must be unmasked; client frames are masked. Pings are answered; a close from the server is
/// answered and then reported. `TestWebSocket.session` scopes the connection; use the socket from that task.
package final class TestWebSocket {
    package enum Message: Equatable, Sendable {
        case text(String)
        case binary([UInt8])
    }

    package enum Event: Equatable, Sendable {
        case message(Message)
        /// The server's close frame: its code (nil when it carried none) and reason.
        case close(code: UInt16?, reason: String)
    }

    package struct Failure: Error, CustomStringConvertible {
        package let description: String
    }

    /// The upgrade answer's headers.
    package let headers: [(name: String, value: String)]
    private let channel: any Channel
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var pending: ByteBuffer
    private var fragments: (opcode: UInt8, payload: [UInt8])?
    private var sentClose = false
    /// The code of the server's close frame, once one came.
    package private(set) var closeCode: UInt16?
    private var ended = false

    private init(
        channel: any Channel, inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, headers: [(name: String, value: String)],
        pending: ByteBuffer
    ) {
        self.channel = channel
        self.inbound = inbound
        self.outbound = outbound
        self.headers = headers
        self.pending = pending
    }

    /// Connects to 127.0.0.1:`port`, upgrades `path` (with its query) and runs `body` with the socket; the
    /// connection is closed when `body` returns. Throws `Failure` when the answer is not a valid 101.
    package static func session<Result: Sendable>(
        port: Int, path: String, headers extraHeaders: [(String, String)] = [],
        _ body: (TestWebSocket) async throws -> Result
    ) async throws -> Result {
        let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        var request =
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        for (name, value) in extraHeaders { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        let underlying = connection.channel
        return try await connection.executeThenClose { inbound, outbound in
            var iterator = inbound.makeAsyncIterator()
            try await outbound.write(ByteBuffer(string: request))
            var received = ByteBuffer()
            while true {
                let bytes = Array(received.readableBytesView)
                if let end = (0..<max(0, bytes.count - 3)).first(where: {
                    bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10
                }) {
                    let head = String(decoding: bytes[..<end], as: UTF8.self)
                    received.moveReaderIndex(forwardBy: end + 4)
                    let lines = head.components(separatedBy: "\r\n")
                    let fields = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
                        guard let colon = line.firstIndex(of: ":") else { return nil }
                        return (
                            String(line[..<colon]),
                            line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                        )
                    }
                    guard lines.first?.hasPrefix("HTTP/1.1 101") == true else {
                        throw Failure(description: "no upgrade: \(lines.first ?? "")")
                    }
                    let accept = Data(
                        Insecure.SHA1.hash(data: Data((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))
                    ).base64EncodedString()
                    guard
                        fields.contains(where: { $0.name.lowercased() == "sec-websocket-accept" && $0.value == accept })
                    else {
                        throw Failure(description: "wrong or missing Sec-WebSocket-Accept in \(head)")
                    }
                    let socket = TestWebSocket(
                        channel: underlying, inbound: iterator, outbound: outbound, headers: fields,
                        pending: received)
                    return try await body(socket)
                }
                guard var chunk = try await iterator.next() else {
                    throw Failure(description: "connection closed before the upgrade answer ended")
                }
                received.writeBuffer(&chunk)
            }
        }
    }

    /// The value of the upgrade answer's header `name` (any case).
    package func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The next message or the server's close; nil once the connection has ended.
    package func next() async throws -> Event? {
        while !ended {
            if let event = try await nextFrameEvent() { return event }
        }
        return nil
    }

    /// Messages until the server closes: what came, and the close (nil when the connection ended without one).
    package func readUntilClose() async throws -> (messages: [Message], close: (code: UInt16?, reason: String)?) {
        var messages: [Message] = []
        while let event = try await next() {
            switch event {
            case .message(let message): messages.append(message)
            case .close(let code, let reason): return (messages, (code, reason))
            }
        }
        return (messages, nil)
    }

    package func send(_ message: Message) async throws {
        switch message {
        case .text(let text): try await write(opcode: 0x1, payload: Array(text.utf8))
        case .binary(let bytes): try await write(opcode: 0x2, payload: bytes)
        }
    }

    /// Sends a close frame (once), then reads until the server's close or the end of the connection.
    package func close(code: UInt16 = 1000, reason: String = "") async throws {
        if !sentClose {
            sentClose = true
            try await write(opcode: 0x8, payload: Self.closePayload(code: code, reason: reason))
        }
        while let event = try await next() {
            if case .close = event { break }
        }
        try? await channel.close()
    }

    /// Sends a close frame (once) and returns: what the server sent before its close is still to be read.
    package func sendClose(code: UInt16 = 1000, reason: String = "") async throws {
        guard !sentClose else { return }
        sentClose = true
        try await write(opcode: 0x8, payload: Self.closePayload(code: code, reason: reason))
    }

    /// Ends the connection without a close handshake.
    package func abort() async {
        ended = true
        try? await channel.close()
    }

    // MARK: - frames

    private func nextFrameEvent() async throws -> Event? {
        while true {
            if let frame = parseFrame() { return try await handle(frame) }
            guard var chunk = try await inbound.next() else {
                ended = true
                return nil
            }
            pending.writeBuffer(&chunk)
        }
    }

    private struct Frame {
        var fin: Bool
        var opcode: UInt8
        var payload: [UInt8]
    }

    private func parseFrame() -> Frame? {
        let bytes = pending.readableBytesView
        guard bytes.count >= 2 else { return nil }
        let start = bytes.startIndex
        let first = bytes[start]
        let second = bytes[start + 1]
        var offset = 2
        var length = Int(second & 0x7F)
        if length == 126 {
            guard bytes.count >= 4 else { return nil }
            length = Int(bytes[start + 2]) << 8 | Int(bytes[start + 3])
            offset = 4
        } else if length == 127 {
            guard bytes.count >= 10 else { return nil }
            length = (0..<8).reduce(0) { $0 << 8 | Int(bytes[start + 2 + $1]) }
            offset = 10
        }
        let masked = second & 0x80 != 0
        let mask = masked ? Array(bytes[(start + offset)..<(start + offset + 4)]) : []
        if masked { offset += 4 }
        guard bytes.count >= offset + length else { return nil }
        var payload = Array(bytes[(start + offset)..<(start + offset + length)])
        if masked { for index in payload.indices { payload[index] ^= mask[index % 4] } }
        pending.moveReaderIndex(forwardBy: offset + length)
        pending.discardReadBytes()
        return Frame(fin: first & 0x80 != 0, opcode: first & 0x0F, payload: payload)
    }

    private func handle(_ frame: Frame) async throws -> Event? {
        switch frame.opcode {
        case 0x1, 0x2:
            if frame.fin { return .message(Self.message(opcode: frame.opcode, payload: frame.payload)) }
            fragments = (frame.opcode, frame.payload)
            return nil
        case 0x0:
            guard var pieces = fragments else { throw Failure(description: "a continuation frame with no message") }
            pieces.payload += frame.payload
            fragments = frame.fin ? nil : pieces
            return frame.fin ? .message(Self.message(opcode: pieces.opcode, payload: pieces.payload)) : nil
        case 0x8:
            let code = frame.payload.count >= 2 ? UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1]) : nil
            closeCode = code
            let reason = String(decoding: frame.payload.dropFirst(2), as: UTF8.self)
            if !sentClose {
                sentClose = true
                try? await write(opcode: 0x8, payload: Array(frame.payload.prefix(2)))
            }
            return .close(code: code, reason: reason)
        case 0x9:
            try await write(opcode: 0xA, payload: frame.payload)
            return nil
        case 0xA:
            return nil
        default:
            throw Failure(description: "unknown opcode \(frame.opcode)")
        }
    }

    private static func message(opcode: UInt8, payload: [UInt8]) -> Message {
        opcode == 0x1 ? .text(String(decoding: payload, as: UTF8.self)) : .binary(payload)
    }

    private static func closePayload(code: UInt16, reason: String) -> [UInt8] {
        [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8)
    }

    private func write(opcode: UInt8, payload: [UInt8]) async throws {
        var frame = ByteBuffer()
        frame.writeInteger(0x80 | opcode)
        if payload.count < 126 {
            frame.writeInteger(UInt8(0x80 | payload.count))
        } else if payload.count <= 0xFFFF {
            frame.writeInteger(UInt8(0x80 | 126))
            frame.writeInteger(UInt16(payload.count))
        } else {
            frame.writeInteger(UInt8(0x80 | 127))
            frame.writeInteger(UInt64(payload.count))
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame.writeBytes(mask)
        frame.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        try await outbound.write(frame)
    }
}
