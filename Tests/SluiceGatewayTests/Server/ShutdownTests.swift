import AsyncHTTPClient
import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOPosix
import NIOWebSocket
import SluiceCore
import Synchronization
import Testing

@Suite("graceful shutdown")
struct ShutdownTests {
    @Test("SSE clients get goaway, WebSockets close with 1001, an in-flight POST completes, then the gateway stops")
    func drain() async throws {
        let gateway = try await TestGateway.start(definitions: ["events.json": Definitions.inMemory()])
        let stream = try await SSEReader.open("\(gateway.baseURL)/events")
        _ = try await stream.next()

        let webSocketClose = Task {
            try await WebSocketClient.connect(url: "ws://127.0.0.1:\(gateway.port)/events", logger: Logger(label: "ws"))
            { inbound, _, _ in
                for try await _ in inbound {}
            }
        }
        #expect(try await gateway.eventually { gateway.gateway.streams.count == 2 })

        // A POST whose body is still arriving when the shutdown starts.
        let (body, continuation) = AsyncStream<ByteBuffer>.makeStream()
        var request = HTTPClientRequest(url: "\(gateway.baseURL)/events")
        request.method = .POST
        request.body = .stream(body, length: .known(Int64(10)))
        continuation.yield(ByteBuffer(string: "in-"))
        let post = Task { try await testHTTPClient.execute(request, timeout: .seconds(20)) }
        // The gateway must have read the request's head before it starts to drain: a request that has not reached
        // it yet meets a closing connection, as with any server. A second leaves room on a loaded machine.
        try await Task.sleep(for: .seconds(1))

        let stopped = Task { try await gateway.stop() }
        try await Task.sleep(for: .milliseconds(200))
        continuation.yield(ByteBuffer(string: "flight"))
        continuation.yield(ByteBuffer(string: "!"))
        continuation.finish()

        let response = try await within(.seconds(10)) { try await post.value }
        #expect(response.status == .accepted)

        var events: [ServerSentEvent] = []
        while let event = try await within(.seconds(10), { try await stream.next() }) { events.append(event) }
        #expect(events.last?.event == "goaway")
        #expect(events.last?.data == "Stopping, please reconnect")

        let close = try await within(.seconds(10)) { try await webSocketClose.value }
        #expect(close?.closeCode == .goingAway)

        try await within(.seconds(15)) { try await stopped.value }
    }

    @Test("an idle keep-alive connection is closed by the gateway when it shuts down, not left to the client")
    func idleConnectionClosed() async throws {
        let gateway = try await TestGateway.start(definitions: ["events.json": Definitions.inMemory()])
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: gateway.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(
                ByteBuffer(string: "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"))
            var iterator = inbound.makeAsyncIterator()
            let answer = try await iterator.next().map { String(buffer: $0) } ?? ""
            #expect(answer.hasPrefix("HTTP/1.1 202 "))
            // The connection stays open (keep-alive) until the gateway stops; then the gateway closes it.
            try await within(.seconds(10)) { try await gateway.stop() }
            let rest = try await iterator.next()
            #expect(rest == nil)
        }
    }
}
