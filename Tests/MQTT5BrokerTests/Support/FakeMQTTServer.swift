import MQTT5
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A scripted MQTT server on a loopback port, for what no real broker does: garbage, protocol violations, silence,
/// an enhanced authentication exchange. For each packet the client sends, `script` says what to answer.
final class FakeMQTTServer: Sendable {
    enum Reply: Sendable {
        case packet(MQTTPacket)
        /// Raw bytes, which need not be a valid packet.
        case bytes([UInt8])
        case close
        /// These replies, after a while (an acknowledgement that takes its time).
        indirect case after(TimeAmount, [Reply])
    }

    /// What the client sent, in order, over every connection.
    var received: [MQTTPacket] { state.withLockedValue { $0.received } }
    /// How many connections the client opened.
    var connectionCount: Int { state.withLockedValue { $0.connections } }
    let port: Int

    private let channel: any Channel
    private let state: NIOLockedValueBox<State>

    private struct State {
        var received: [MQTTPacket] = []
        var connections = 0
    }

    /// - Parameter script: Called with each packet the client sends and the number of the connection (from 1);
    ///   returns the replies to write, in order.
    static func start(
        script: @escaping @Sendable (_ packet: MQTTPacket, _ connection: Int) -> [Reply]
    ) async throws -> FakeMQTTServer {
        let state = NIOLockedValueBox(State())
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let number = state.withLockedValue { state in
                        state.connections += 1
                        return state.connections
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(MQTTPacketDecoder()))
                    try channel.pipeline.syncOperations.addHandler(
                        ScriptHandler(connection: number, state: state, script: script))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return FakeMQTTServer(channel: channel, state: state, port: channel.localAddress!.port!)
    }

    private init(channel: any Channel, state: NIOLockedValueBox<State>, port: Int) {
        self.channel = channel
        self.state = state
        self.port = port
    }

    func stop() async {
        try? await channel.close()
    }

    /// Runs `body`, then stops the server, also when `body` throws.
    func serving<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> T
    ) async throws -> T {
        do {
            let result = try await body()
            await stop()
            return result
        } catch {
            await stop()
            throw error
        }
    }

    /// Waits until the client has sent a packet `predicate` accepts, and returns it.
    func waitForPacket(
        _ what: String,
        timeout: Duration = .seconds(20),
        where predicate: (MQTTPacket) -> Bool
    ) async throws -> MQTTPacket {
        var found: MQTTPacket?
        try await eventually(what, timeout: timeout) {
            found = received.first(where: predicate)
            return found != nil
        }
        return found!
    }

    private final class ScriptHandler: ChannelInboundHandler {
        typealias InboundIn = MQTTPacket
        typealias OutboundOut = ByteBuffer

        let connection: Int
        let state: NIOLockedValueBox<State>
        let script: @Sendable (MQTTPacket, Int) -> [Reply]

        init(connection: Int, state: NIOLockedValueBox<State>, script: @escaping @Sendable (MQTTPacket, Int) -> [Reply])
        {
            self.connection = connection
            self.state = state
            self.script = script
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let packet = unwrapInboundIn(data)
            state.withLockedValue { $0.received.append(packet) }
            send(script(packet, connection), context: context)
        }

        private func send(_ replies: [Reply], context: ChannelHandlerContext) {
            for reply in replies {
                switch reply {
                case .packet(let packet):
                    var buffer = context.channel.allocator.buffer(capacity: 64)
                    try! packet.write(into: &buffer)
                    context.write(wrapOutboundOut(buffer), promise: nil)
                case .bytes(let bytes):
                    context.write(wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
                case .close:
                    context.flush()
                    context.close(promise: nil)
                    return
                case .after(let delay, let later):
                    context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
                        self.send(later, context: context)
                    }
                }
            }
            context.flush()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
