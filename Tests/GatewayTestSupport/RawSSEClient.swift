import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// An SSE client over a plain TCP connection: writes the request itself, reads the status, headers and chunked
/// body itself, parses events as they arrive (in the background, so several streams can be read at once), and
/// can close its socket at any moment, as a client that goes away.
package final class RawSSEClient: Sendable {
    private struct State {
        /// Bytes not parsed yet: the head, then the chunked body.
        package var raw: [UInt8] = []
        /// Decoded body text not split into events yet.
        package var text = ""
        package var status: Int?
        package var headers: [(String, String)] = []
        package var chunked = false
        /// Every block received: messages, errors, heartbeats, the `retry` block.
        package var blocks: [ServerSentEvent] = []
        package var closed = false
    }

    private let channel: any Channel
    /// The parsed response, shared with the channel handler that fills it.
    private let box: StateBox
    /// The next block `next()` returns.
    private let readIndex = Mutex(0)

    private init(channel: any Channel, box: StateBox) {
        self.channel = channel
        self.box = box
    }

    /// Connects to 127.0.0.1:`port`, asks for `path` as an event stream, and waits for the response head.
    package static func open(port: Int, path: String, headers: [(String, String)] = []) async throws -> RawSSEClient {
        let box = StateBox()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(box: box))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let client = RawSSEClient(channel: channel, box: box)
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        try await channel.writeAndFlush(ByteBuffer(string: request)).get()
        let deadline = ContinuousClock.now + .seconds(30)
        while client.status == 0 {
            if box.state.withLock({ $0.closed }) { throw HarnessFailure("the connection closed before a response") }
            guard ContinuousClock.now < deadline else { throw HarnessFailure("no response head within 30 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return client
    }

    package var status: Int { box.state.withLock { $0.status ?? 0 } }

    package func header(_ name: String) -> String? {
        box.state.withLock { state in state.headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    /// The message events received so far.
    package var receivedMessages: [ServerSentEvent] {
        box.state.withLock { $0.blocks.filter { $0.event == "message" } }
    }

    /// Stops reading the socket, as a client that does not keep up: what the gateway sends waits in the sockets.
    package func pauseReading() async throws {
        try await channel.setOption(ChannelOptions.autoRead, value: false).get()
    }

    /// Reads the socket again.
    package func resumeReading() async throws {
        try await channel.setOption(ChannelOptions.autoRead, value: true).get()
        channel.read()
    }

    /// Closes the socket, as a client that leaves.
    package func close() async {
        try? await channel.close().get()
    }

    /// The next block (message, error, heartbeat), or nil once the stream has ended; waits at most `timeout`.
    package func next(timeout: Duration = .seconds(30)) async throws -> ServerSentEvent? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let index = readIndex.withLock { $0 }
            let (block, closed) = box.state.withLock { state in
                (index < state.blocks.count ? state.blocks[index] : nil, state.closed)
            }
            if let block {
                readIndex.withLock { $0 += 1 }
                return block
            }
            if closed { return nil }
            guard ContinuousClock.now < deadline else { throw HarnessFailure("no event within \(timeout)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The next `message` or `error` event, skipping the retry and heartbeat blocks.
    package func nextEvent(timeout: Duration = .seconds(30)) async throws -> ServerSentEvent? {
        let deadline = ContinuousClock.now + timeout
        while let event = try await next(timeout: max(.zero, deadline - ContinuousClock.now)) {
            if event.event != nil { return event }
        }
        return nil
    }

    /// `count` message events; throws on any other event, the end of the stream, or `timeout`.
    package func messages(_ count: Int, timeout: Duration = .seconds(30)) async throws -> [ServerSentEvent] {
        let deadline = ContinuousClock.now + timeout
        var events: [ServerSentEvent] = []
        while events.count < count {
            guard let event = try await nextEvent(timeout: max(.zero, deadline - ContinuousClock.now)) else {
                throw HarnessFailure("the stream ended after \(events.count) of \(count) messages")
            }
            guard event.event == "message" else { throw HarnessFailure("unexpected event \(event)") }
            events.append(event)
        }
        return events
    }

    package static func parse(_ block: String) -> ServerSentEvent {
        var event = ServerSentEvent()
        var data: [String] = []
        for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(":") {
                event.comments.append(String(line.dropFirst()))
                continue
            }
            let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            var value = parts.count > 1 ? String(parts[1]) : ""
            if value.hasPrefix(" ") { value.removeFirst() }
            switch parts[0] {
            case "id": event.id = value
            case "event": event.event = value
            case "data": data.append(value)
            default: break
            }
        }
        if !data.isEmpty { event.data = data.joined(separator: "\n") }
        return event
    }

    private final class StateBox: Sendable {
        package let state = Mutex(State())

        /// Takes new bytes: the head once, then whole chunks, then whole events.
        package func received(_ bytes: ByteBuffer) {
            state.withLock { state in
                state.raw += bytes.readableBytesView
                if state.status == nil {
                    guard let end = state.raw.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
                    let head = String(decoding: state.raw[..<end.lowerBound], as: UTF8.self)
                    state.raw.removeSubrange(..<end.upperBound)
                    var lines = head.split(separator: "\r\n").map(String.init)
                    let statusLine = lines.removeFirst().split(separator: " ")
                    state.status = statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0
                    state.headers = lines.compactMap { line in
                        guard let colon = line.firstIndex(of: ":") else { return nil }
                        return (
                            String(line[..<colon]),
                            String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                        )
                    }
                    state.chunked = state.headers.contains {
                        $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked")
                    }
                }
                if state.chunked {
                    while let lineEnd = state.raw.firstRange(of: Array("\r\n".utf8)) {
                        let sizeText = String(decoding: state.raw[..<lineEnd.lowerBound], as: UTF8.self)
                        guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else { break }
                        let start = lineEnd.upperBound
                        guard state.raw.count >= start + size + 2 else { break }
                        // The last chunk: the response has ended (the connection may stay open).
                        if size == 0 { state.closed = true }
                        state.text += String(decoding: state.raw[start..<start + size], as: UTF8.self)
                        state.raw.removeSubrange(..<(start + size + 2))
                    }
                } else {
                    state.text += String(decoding: state.raw, as: UTF8.self)
                    state.raw.removeAll()
                }
                while let range = state.text.range(of: "\n\n") {
                    state.blocks.append(RawSSEClient.parse(String(state.text[..<range.lowerBound])))
                    state.text = String(state.text[range.upperBound...])
                }
            }
        }

        package func closed() {
            state.withLock { $0.closed = true }
        }
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        package typealias InboundIn = ByteBuffer
        package let box: StateBox

        package init(box: StateBox) { self.box = box }

        package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            box.received(unwrapInboundIn(data))
        }

        package func channelInactive(context: ChannelHandlerContext) {
            box.closed()
            context.fireChannelInactive()
        }
    }
}
