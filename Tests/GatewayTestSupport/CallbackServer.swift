import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A webhook receiver on 127.0.0.1 (an ephemeral port, or a given one to come back on) for the webhook tests: it
/// records every POST it gets and answers as its current behaviour says (at once, slowly, failing with 5xx some of
/// the time, with a 4xx, or never).
package final class CallbackServer: Sendable {
    package enum Behaviour: Sendable {
        case accept
        /// 200 after this long.
        case slow(Duration)
        /// 503 for about this share of the requests (decided per request, at random), else 200.
        case failing(rate: Double)
        /// Always this status.
        case status(Int)
        /// Reads the request and never answers.
        case hang
    }

    /// One request as received.
    package struct Received: Sendable {
        package var path: String
        package var headers: [(String, String)]
        package var body: String
        package var status: Int

        package func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    final class State: Sendable {
        let behaviour: Mutex<Behaviour>
        let received = Mutex<[Received]>([])
        /// Accepted connections, closed with the server (a receiver that goes away drops its keep-alive ones too).
        let connections = Mutex<[any Channel]>([])
        init(_ behaviour: Behaviour) { self.behaviour = Mutex(behaviour) }
    }

    package let port: Int
    private let channel: any Channel
    private let state: State

    package var url: String { "http://127.0.0.1:\(port)/hook" }

    private init(port: Int, channel: any Channel, state: State) {
        self.port = port
        self.channel = channel
        self.state = state
    }

    /// Starts a receiver; `port` 0 picks a free one.
    package static func start(_ behaviour: Behaviour = .accept, port: Int = 0) async throws -> CallbackServer {
        let state = State(behaviour)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                state.connections.withLock { $0.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(CallbackHandler(state: state))
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        return CallbackServer(port: channel.localAddress?.port ?? 0, channel: channel, state: state)
    }

    package func set(_ behaviour: Behaviour) { state.behaviour.withLock { $0 = behaviour } }

    /// Every request received so far, in order.
    package var received: [Received] { state.received.withLock { $0 } }

    /// The bodies the receiver acknowledged (2xx), in order, with repeats.
    package var acknowledgedBodies: [String] {
        received.filter { (200..<300).contains($0.status) }.map(\.body)
    }

    /// Stops listening and closes its connections (a receiver that goes away).
    package func stop() async {
        try? await channel.close()
        for connection in state.connections.withLock({ $0 }) { try? await connection.close() }
    }

    /// Waits until `condition` holds of what was received, up to `limit`.
    package func wait(
        _ limit: Duration = .seconds(30), _ what: String, until condition: @Sendable ([Received]) -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + limit
        while !condition(received) {
            if ContinuousClock.now >= deadline {
                throw CallbackServerTimeout(what: what, received: received.count)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

package struct CallbackServerTimeout: Error, CustomStringConvertible {
    package var what: String
    package var received: Int
    package var description: String { "timed out waiting for \(what) (\(received) requests received)" }
}

private final class CallbackHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let state: CallbackServer.State
    var head: HTTPRequestHead?
    var body = ByteBuffer()

    init(state: CallbackServer.State) { self.state = state }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var part):
            body.writeBuffer(&part)
        case .end:
            guard let head else { return }
            let behaviour = state.behaviour.withLock { $0 }
            let status: Int
            var delay: Duration?
            switch behaviour {
            case .accept: status = 200
            case .slow(let duration):
                status = 200
                delay = duration
            case .failing(let rate): status = Double.random(in: 0..<1) < rate ? 503 : 200
            case .status(let code): status = code
            case .hang: status = 0
            }
            let received = CallbackServer.Received(
                path: head.uri, headers: head.headers.map { ($0.name, $0.value) }, body: String(buffer: body),
                status: status)
            guard status != 0 else {
                state.received.withLock { $0.append(received) }
                return
            }
            let answer = { [state] in
                state.received.withLock { $0.append(received) }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Length", value: "0")
                context.write(
                    self.wrapOutboundOut(
                        .head(
                            HTTPResponseHead(version: head.version, status: .init(statusCode: status), headers: headers)
                        )),
                    promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            }
            if let delay {
                let nanoseconds =
                    delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
                let bound = NIOLoopBound(answer, eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) { bound.value() }
            } else {
                answer()
            }
        }
    }
}
