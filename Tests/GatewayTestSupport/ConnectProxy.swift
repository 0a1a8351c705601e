import NIOCore
import NIOPosix
import Synchronization

/// A forward proxy on 127.0.0.1 that answers `CONNECT` (RFC 9110 §9.3.6): it records each tunnel's target and
/// `Proxy-Authorization`, then relays the bytes both ways to `upstreamPort` on 127.0.0.1, whatever host the target
/// names (the proxy does the resolving, so the gateway's side needs no name of the callback to resolve).
package final class ConnectProxy: Sendable {
    package struct Tunnel: Sendable {
        package var target: String
        package var authorization: String?
    }

    let channel: any Channel
    let state = Mutex<[Tunnel]>([])
    package let port: Int

    package var tunnels: [Tunnel] { state.withLock { $0 } }

    private init(channel: any Channel) {
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
    }

    package static func start(upstreamPort: Int) async throws -> ConnectProxy {
        let tunnels = TunnelLog()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectHandler(upstreamPort: upstreamPort, log: tunnels))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let proxy = ConnectProxy(channel: channel)
        tunnels.proxy.withLock { $0 = proxy }
        return proxy
    }

    package func stop() async {
        try? await channel.close()
    }

    fileprivate func record(_ tunnel: Tunnel) { state.withLock { $0.append(tunnel) } }
}

private final class TunnelLog: Sendable {
    let proxy = Mutex<ConnectProxy?>(nil)
    func record(_ tunnel: ConnectProxy.Tunnel) { proxy.withLock { $0 }?.record(tunnel) }
}

/// Reads the `CONNECT` head, opens the upstream connection, answers 200 and relays.
private final class ConnectHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let upstreamPort: Int
    let log: TunnelLog
    var head = ByteBuffer()
    var upstream: (any Channel)?
    var pending: [ByteBuffer] = []
    var connecting = false

    init(upstreamPort: Int, log: TunnelLog) {
        self.upstreamPort = upstreamPort
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if let upstream {
            upstream.writeAndFlush(bytes, promise: nil)
            return
        }
        if connecting {
            pending.append(bytes)
            return
        }
        head.writeBuffer(&bytes)
        let text = String(buffer: head)
        guard let end = text.range(of: "\r\n\r\n") else { return }
        let lines = text[..<end.lowerBound].split(separator: "\r\n")
        let request = lines.first?.split(separator: " ") ?? []
        guard request.count == 3, request[0] == "CONNECT" else {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 405 Method Not Allowed\r\n\r\n")))
                .whenComplete { _ in context.close(promise: nil) }
            return
        }
        let authorization = lines.dropFirst().first { $0.lowercased().hasPrefix("proxy-authorization:") }
            .map { $0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces) }
        log.record(.init(target: String(request[1]), authorization: authorization))
        let headLength = text[..<end.upperBound].utf8.count
        head.moveReaderIndex(forwardBy: headLength)
        if head.readableBytes > 0 { pending.append(head) }
        connecting = true
        let client = context.channel
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        ClientBootstrap(group: context.eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RelayHandler(partner: client))
                }
            }
            .connect(host: "127.0.0.1", port: upstreamPort)
            .whenComplete { result in
                let (handler, context) = loopBound.value
                switch result {
                case .success(let channel):
                    handler.upstream = channel
                    handler.connecting = false
                    context.writeAndFlush(
                        handler.wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 Connection established\r\n\r\n")),
                        promise: nil)
                    for buffer in handler.pending { channel.write(buffer, promise: nil) }
                    channel.flush()
                    handler.pending = []
                case .failure:
                    context.writeAndFlush(
                        handler.wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 502 Bad Gateway\r\n\r\n"))
                    )
                    .whenComplete { _ in context.close(promise: nil) }
                }
            }
    }

    func channelInactive(context: ChannelHandlerContext) {
        upstream?.close(promise: nil)
    }
}

/// Writes what the upstream sends back to the client's connection.
private final class RelayHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let partner: any Channel

    init(partner: any Channel) { self.partner = partner }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner.close(promise: nil)
    }
}
