import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the receiver's connections on one event loop saw. Touched only on that loop.
final class ReceiverStats: @unchecked Sendable {
    var requests = 0
    /// Requests by path: each webhook subscription of the benchmark has a callback path of its own.
    var byPath: [String: Int] = [:]
    var timed = SubscriberStats()

    func merge(_ other: ReceiverStats) {
        requests += other.requests
        for (path, count) in other.byPath { byPath[path, default: 0] += count }
        timed.merge(other.timed)
    }
}

/// Answers each request with a fixed status and an empty body, keeping the connection alive, and records when a
/// body starting with `t=<unix nanos>;` arrived.
final class ReceiverHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let stats: ReceiverStats
    private let status: HTTPResponseStatus
    private var path = ""
    private var sentAt: Int64 = -1
    private var sawBody = false
    private var keepAlive = true

    init(stats: ReceiverStats, status: HTTPResponseStatus) {
        self.stats = stats
        self.status = status
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = head.uri
            sentAt = -1
            sawBody = false
            keepAlive = head.isKeepAlive
        case .body(let body):
            // The send time is at the start of the content: only the first part of a body is read.
            if !sawBody {
                sawBody = true
                sentAt = Self.timestamp(body)
            }
        case .end:
            let now = wallClockNanos()
            stats.requests += 1
            stats.byPath[path, default: 0] += 1
            if sentAt > 0 { stats.timed.recordEvent(sentAt: sentAt, receivedAt: now) }
            var headers = HTTPHeaders()
            headers.add(name: "content-length", value: "0")
            if !keepAlive { headers.add(name: "connection", value: "close") }
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                promise: nil)
            let keepAlive = self.keepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
        }
    }

    /// The `t=<digits>;` at the start of a body, or -1.
    static func timestamp(_ body: ByteBuffer) -> Int64 {
        body.withUnsafeReadableBytes { bytes in
            guard bytes.count > 2, bytes[0] == UInt8(ascii: "t"), bytes[1] == UInt8(ascii: "=") else { return -1 }
            var value: Int64 = 0
            for index in 2..<bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: ";") { return value }
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return -1 }
                value = value &* 10 &+ Int64(byte - UInt8(ascii: "0"))
            }
            return -1
        }
    }
}

/// `receive`: a webhook receiver for the webhook benchmark, until the stop file exists.
func runReceiver(_ options: Options) throws {
    let port = try options.int("port")
    let stopFile = try options.string("stop-file")
    let threads = max(1, try options.int("threads", default: 1))
    let status = HTTPResponseStatus(statusCode: try options.int("status", default: 200))
    raiseOpenFileLimit()
    let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
    // One stats object per loop, touched only on it; a connection's handler uses its loop's.
    var statsByLoop: [ObjectIdentifier: ReceiverStats] = [:]
    var loops: [any EventLoop] = []
    for loop in group.makeIterator() {
        statsByLoop[ObjectIdentifier(loop)] = ReceiverStats()
        loops.append(loop)
    }
    let lookup = statsByLoop
    let channel = try ServerBootstrap(group: group)
        .serverChannelOption(ChannelOptions.backlog, value: 4096)
        .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            let stats = lookup[ObjectIdentifier(channel.eventLoop)]!
            return channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                channel.pipeline.addHandler(ReceiverHandler(stats: stats, status: status))
            }
        }
        .bind(host: "127.0.0.1", port: port).wait()
    say("LISTENING \(channel.localAddress?.port ?? port)")
    let begin = monotonicNanos()
    var nextReport = begin + 1_000_000_000
    while access(stopFile, F_OK) != 0 {
        usleep(100_000)
        if monotonicNanos() >= nextReport {
            nextReport += 1_000_000_000
            // Progress for the outer script: the callbacks reached so far and the timed deliveries.
            var requests = 0
            var timed = 0
            var paths = Set<String>()
            for loop in loops {
                let stats = lookup[ObjectIdentifier(loop)]!
                let (count, seen, delivered) = try loop.submit {
                    (stats.requests, Set(stats.byPath.keys), stats.timed.delivered)
                }.wait()
                requests += count
                timed += delivered
                paths.formUnion(seen)
            }
            say("PROGRESS requests=\(requests) paths=\(paths.count) timed=\(timed)")
        }
    }
    let ranSeconds = Double(monotonicNanos() - begin) / 1e9
    try channel.close().wait()
    let total = ReceiverStats()
    for loop in loops {
        let stats = lookup[ObjectIdentifier(loop)]!
        try loop.submit { total.merge(stats) }.wait()
    }
    try group.syncShutdownGracefully()
    var result = ResultLine()
    result.set("mode", "receive")
    result.set("ran_seconds", ranSeconds)
    result.set("requests", total.requests)
    result.set("paths", total.byPath.count)
    result.set("min_per_path", total.byPath.values.min() ?? 0)
    result.set("max_per_path", total.byPath.values.max() ?? 0)
    let timed = total.timed
    result.set("delivered", timed.delivered - timed.deliveredWithoutTimestamp)
    result.setDeliveries(timed)
    say("RESULT \(result.json)")
}
