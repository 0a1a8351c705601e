import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A real HTTP/1.1 backend on 127.0.0.1 (an ephemeral port) for the proxy tests, with routes that echo, wait, fail
/// and stream, and counters the tests read. Optionally over TLS.
///
/// Routes (any method):
/// - `/echo…`: 200 with a JSON body naming the method, the request target, the headers and the body received.
/// - `/slow?ms=N`: 200 after N ms.
/// - `/fail`: closes the connection without answering.
/// - `/status/N`: answers status N.
/// - `/hop`: 200 with hop-by-hop headers beside an end-to-end one.
/// - `/stream?parts=N&interval=MS`: a chunked `text/event-stream` body, one `data: part i` event every MS ms, then
///   the end (N = 0: never ends).
/// - `/upload?pauseAfter=BYTES`: counts the body; after BYTES it stops reading (the sender is held back).
final class TestBackend: Sendable {
    struct Stats: Sendable {
        var connections = 0
        /// Connections that have closed, from either side.
        var closed = 0
        var requests = 0
        var uploadBytes = 0
        var streamsOpen = 0
        var streamsClosed = 0
    }

    let name: String
    let port: Int
    private let channel: any Channel
    private let box: StatsBox

    var url: String { "http://127.0.0.1:\(port)" }

    private init(name: String, port: Int, channel: any Channel, box: StatsBox) {
        self.name = name
        self.port = port
        self.channel = channel
        self.box = box
    }

    var snapshot: Stats { box.stats.withLock { $0 } }

    static func start(name: String = "backend", tls: NIOSSLContext? = nil) async throws -> TestBackend {
        let box = StatsBox()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            // Small, fixed receive buffers: what a paused upload leaves in between is not hidden in this socket.
            .childChannelOption(ChannelOptions.socketOption(.so_rcvbuf), value: 64 << 10)
            .childChannelInitializer { channel in
                box.stats.withLock { $0.connections += 1 }
                channel.closeFuture.whenComplete { _ in box.stats.withLock { $0.closed += 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(BackendHandler(name: name, stats: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TestBackend(name: name, port: channel.localAddress!.port!, channel: channel, box: box)
    }

    func stop() async {
        try? await channel.close()
    }
}

/// The counters, shared by reference with the handlers.
final class StatsBox: Sendable {
    let stats = Mutex(TestBackend.Stats())
}

private final class BackendHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let name: String
    let stats: StatsBox
    var head: HTTPRequestHead?
    var body = ByteBuffer()
    var received = 0
    var pauseAfter: Int?
    var streaming: Scheduled<Void>?
    var streamOpen = false

    init(name: String, stats: StatsBox) {
        self.name = name
        self.stats = stats
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
            received = 0
            stats.stats.withLock { $0.requests += 1 }
            let (path, query) = Self.split(head.uri)
            pauseAfter = path == "/upload" ? query["pauseAfter"].flatMap(Int.init) : nil
            if path == "/early" {
                // Answers before reading the body (which it then reads and drops).
                writeSimple(status: .ok, body: "early", context: context)
            }
        case .body(var chunk):
            received += chunk.readableBytes
            if head.map({ Self.split($0.uri).path }) == "/upload" {
                let count = chunk.readableBytes
                stats.stats.withLock { $0.uploadBytes += count }
                if let pauseAfter, received >= pauseAfter {
                    _ = context.channel.setOption(ChannelOptions.autoRead, value: false)
                }
            } else if body.readableBytes < 65_536 {
                body.writeBuffer(&chunk)
            }
        case .end:
            guard let head, Self.split(head.uri).path != "/early" else { return }
            respond(head, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        streaming?.cancel()
        if streamOpen {
            streamOpen = false
            stats.stats.withLock {
                $0.streamsOpen -= 1
                $0.streamsClosed += 1
            }
        }
        context.fireChannelInactive()
    }

    static func split(_ uri: String) -> (path: String, query: [String: String]) {
        let parts = uri.split(separator: "?", maxSplits: 1)
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                query[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
            }
        }
        return (String(parts.first ?? ""), query)
    }

    func respond(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let (path, query) = Self.split(head.uri)
        if path == "/fail" {
            context.close(promise: nil)
            return
        }
        if path == "/slow" {
            let ms = query["ms"].flatMap(Int64.init) ?? 1000
            // Counted as an open stream until answered, so that a request abandoned meanwhile shows as closed.
            streamOpen = true
            stats.stats.withLock { $0.streamsOpen += 1 }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            streaming = context.eventLoop.scheduleTask(in: .milliseconds(ms)) {
                let (handler, context) = bound.value
                guard handler.streamOpen else { return }
                handler.streamOpen = false
                handler.stats.stats.withLock { $0.streamsOpen -= 1 }
                handler.writeSimple(status: .ok, body: "slow \(ms)", context: context)
            }
            return
        }
        if path.hasPrefix("/status/") {
            let code = Int(path.dropFirst("/status/".count)) ?? 500
            writeSimple(status: HTTPResponseStatus(statusCode: code), body: "status \(code)", context: context)
            return
        }
        if path == "/hop" {
            var headers = HTTPHeaders()
            headers.add(name: "Connection", value: "X-Hop-Secret")
            headers.add(name: "X-Hop-Secret", value: "1")
            headers.add(name: "Keep-Alive", value: "timeout=5")
            headers.add(name: "Proxy-Authenticate", value: "Basic")
            headers.add(name: "X-End-To-End", value: "yes")
            writeSimple(status: .ok, body: "hop", extra: headers, context: context)
            return
        }
        if path == "/stream" {
            let parts = query["parts"].flatMap(Int.init) ?? 5
            let interval = query["interval"].flatMap(Int64.init) ?? 100
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/event-stream")
            headers.add(name: "Transfer-Encoding", value: "chunked")
            headers.add(name: "X-Backend", value: name)
            context.writeAndFlush(
                wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))),
                promise: nil)
            streamOpen = true
            stats.stats.withLock { $0.streamsOpen += 1 }
            streamPart(0, of: parts, interval: interval, context: context)
            return
        }
        if path == "/cors" {
            // A backend with CORS headers of its own, which the gateway's CORS settings replace.
            var headers = HTTPHeaders()
            headers.add(name: "Access-Control-Allow-Origin", value: "*")
            headers.add(name: "Access-Control-Expose-Headers", value: "X-Internal")
            headers.add(name: "Vary", value: "Accept-Encoding")
            writeSimple(status: .ok, body: "cors", extra: headers, context: context)
            return
        }
        if path == "/upload" {
            writeSimple(status: .ok, body: "{\"received\":\(received)}", context: context)
            return
        }
        // Echo.
        var json = "{\"backend\":\(Self.quote(name)),\"method\":\(Self.quote(head.method.rawValue))"
        json += ",\"uri\":\(Self.quote(head.uri)),\"headers\":["
        json += head.headers.map { "[\(Self.quote($0.name)),\(Self.quote($0.value))]" }.joined(separator: ",")
        json += "],\"bodyBytes\":\(received),\"body\":\(Self.quote(String(buffer: body)))}"
        writeSimple(status: .ok, body: json, contentType: "application/json", context: context)
    }

    func streamPart(_ index: Int, of parts: Int, interval: Int64, context: ChannelHandlerContext) {
        if parts > 0, index >= parts {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            streamOpen = false
            stats.stats.withLock {
                $0.streamsOpen -= 1
                $0.streamsClosed += 1
            }
            return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        streaming = context.eventLoop.scheduleTask(in: .milliseconds(interval)) {
            let (handler, context) = bound.value
            guard context.channel.isActive else { return }
            context.writeAndFlush(
                handler.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "data: part \(index)\n\n")))),
                promise: nil)
            handler.streamPart(index + 1, of: parts, interval: interval, context: context)
        }
    }

    func writeSimple(
        status: HTTPResponseStatus, body: String, contentType: String = "text/plain", extra: HTTPHeaders = [:],
        context: ChannelHandlerContext
    ) {
        var headers = extra
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "X-Backend", value: name)
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    static func quote(_ text: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed])
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}
