import NIOCore
import NIOPosix

/// What the subscribers on one event loop saw. Touched only on that loop, so it needs no lock.
final class SubscriberStats: @unchecked Sendable {
    var established = 0
    var connectErrors = 0
    var badStatus = 0
    var protocolErrors = 0
    var socketErrors = 0
    var closedBeforeHead = 0
    var droppedStreams = 0
    var endedStreams = 0
    var delivered = 0
    var deliveredWithoutTimestamp = 0
    var latenciesMicros: [UInt32] = []
    var firstDeliveryNanos: Int64 = .max
    var lastDeliveryNanos: Int64 = .min
    var stopping = false
    static let maxSamples = 20_000_000

    var failures: Int { connectErrors + badStatus + protocolErrors + closedBeforeHead }

    @inline(__always)
    func recordEvent(sentAt: Int64, receivedAt: Int64) {
        delivered += 1
        if receivedAt < firstDeliveryNanos { firstDeliveryNanos = receivedAt }
        if receivedAt > lastDeliveryNanos { lastDeliveryNanos = receivedAt }
        guard sentAt > 0 else {
            deliveredWithoutTimestamp += 1
            return
        }
        if latenciesMicros.count < Self.maxSamples {
            let micros = max(0, (receivedAt - sentAt) / 1000)
            latenciesMicros.append(UInt32(clamping: micros))
        }
    }

    func merge(_ other: SubscriberStats) {
        established += other.established
        connectErrors += other.connectErrors
        badStatus += other.badStatus
        protocolErrors += other.protocolErrors
        socketErrors += other.socketErrors
        closedBeforeHead += other.closedBeforeHead
        droppedStreams += other.droppedStreams
        endedStreams += other.endedStreams
        delivered += other.delivered
        deliveredWithoutTimestamp += other.deliveredWithoutTimestamp
        latenciesMicros += other.latenciesMicros
        firstDeliveryNanos = min(firstDeliveryNanos, other.firstDeliveryNanos)
        lastDeliveryNanos = max(lastDeliveryNanos, other.lastDeliveryNanos)
    }
}

/// One SSE subscriber: sends `GET` with `Accept: text/event-stream`, checks for 200, then counts events and
/// measures how long each took from its embedded send time.
final class SSESubscriberHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let stats: SubscriberStats
    private let request: String
    private var reader = HTTPResponseReader()
    private var parser = SSEEventParser()
    private var streaming = false
    private var finished = false

    init(stats: SubscriberStats, request: String) {
        self.stats = stats
        self.request = request
    }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: request.utf8.count)
        buffer.writeString(request)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        let buffer = unwrapInboundIn(data)
        let now = wallClockNanos()
        let stats = self.stats
        var close = false
        buffer.withUnsafeReadableBytes { bytes in
            var index = 0
            while index < bytes.count, !close {
                let event: HTTPResponseReader.Event
                do {
                    event = try reader.read(bytes, index: &index) { body in
                        guard self.streaming else { return }
                        self.parser.feed(body) { sentAt in stats.recordEvent(sentAt: sentAt, receivedAt: now) }
                    }
                } catch {
                    stats.protocolErrors += 1
                    finished = true
                    close = true
                    return
                }
                switch event {
                case .headComplete(let status):
                    if status == 200 {
                        streaming = true
                        stats.established += 1
                    } else {
                        stats.badStatus += 1
                        finished = true
                        close = true
                    }
                case .messageComplete:
                    // The server ended the stream.
                    if streaming { stats.endedStreams += 1 }
                    finished = true
                    close = true
                case .needMore:
                    break
                }
                if !close, reader.isComplete {
                    // A 200 with an empty or finished body: the server ended the stream.
                    if streaming { stats.endedStreams += 1 }
                    finished = true
                    close = true
                }
            }
        }
        if close { context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !stats.stopping {
            if streaming, !finished {
                stats.droppedStreams += 1
            } else if !streaming, !finished {
                stats.closedBeforeHead += 1
            }
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        stats.socketErrors += 1
        context.close(promise: nil)
    }
}

/// Opens one event loop's share of the subscribers at a bounded pace, keeps them, closes them on `stop`.
/// Every method runs on `loop`.
final class SubscriberLoopRunner: @unchecked Sendable {
    let loop: any EventLoop
    let stats = SubscriberStats()
    private let target: Target
    private let request: String
    private let count: Int
    private let connectsPerSecond: Double
    private let webSocket: Bool
    private let maxPendingConnects = 256
    private var started = 0
    private var pending = 0
    private var channels: [any Channel] = []
    private var startNanos: UInt64 = 0
    private var pacer: RepeatedTask?

    init(
        loop: any EventLoop, target: Target, request: String, count: Int, connectsPerSecond: Double,
        webSocket: Bool
    ) {
        self.webSocket = webSocket
        self.loop = loop
        self.target = target
        self.request = request
        self.count = count
        self.connectsPerSecond = connectsPerSecond
    }

    func start() {
        loop.execute {
            self.startNanos = monotonicNanos()
            self.pacer = self.loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(5)) { task in
                self.openDue()
                if self.started >= self.count { task.cancel() }
            }
        }
    }

    private func openDue() {
        let elapsed = Double(monotonicNanos() - startNanos) / 1e9
        let allowed = connectsPerSecond <= 0 ? count : min(count, Int(connectsPerSecond * elapsed) + 1)
        while started < allowed, pending < maxPendingConnects, !stats.stopping {
            open()
        }
    }

    private func open() {
        started += 1
        pending += 1
        let stats = self.stats
        let request = self.request
        let webSocket = self.webSocket
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(10))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                do {
                    if webSocket {
                        try channel.pipeline.syncOperations.addHandler(
                            WebSocketSubscriberHandler(stats: stats, request: request))
                    } else {
                        try channel.pipeline.syncOperations.addHandler(
                            SSESubscriberHandler(stats: stats, request: request))
                    }
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(to: target.address)
            .whenComplete { result in
                self.pending -= 1
                switch result {
                case .success(let channel):
                    self.channels.append(channel)
                    if self.stats.stopping { channel.close(promise: nil) }
                case .failure:
                    self.stats.connectErrors += 1
                }
                self.openDue()
            }
    }

    /// (established, failed, started) so far.
    func progress() -> EventLoopFuture<(Int, Int, Int)> {
        loop.submit { (self.stats.established, self.stats.failures, self.started) }
    }

    func stop() -> EventLoopFuture<Void> {
        loop.flatSubmit {
            self.stats.stopping = true
            self.pacer?.cancel()
            let closes = self.channels.map { channel -> EventLoopFuture<Void> in
                let promise = self.loop.makePromise(of: Void.self)
                channel.close(promise: promise)
                return promise.futureResult.recover { _ in }
            }
            self.channels.removeAll()
            return EventLoopFuture.andAllComplete(closes, on: self.loop)
        }
    }
}

/// `sse`, `ws` and `idle-sse`: open the subscribers, announce when all are established, run for a bounded time,
/// report.
func runSubscribers(_ options: Options, idle: Bool, webSocket: Bool = false) throws {
    let target = try Target(url: options.string("url"))
    let connections = try options.int("connections")
    let seconds = idle ? try options.double("hold", default: 30) : try options.double("duration", default: 20)
    let ramp = try options.double("ramp", default: 2000)
    let threads = max(1, try options.int("threads", default: 1))
    let establishTimeout = try options.double("establish-timeout", default: Double(connections) / max(ramp, 1) + 30)
    let fileLimit = raiseOpenFileLimit()
    if fileLimit < UInt64(connections + 64) {
        say("WARNING open-file limit \(fileLimit) is below \(connections) connections")
    }
    let request =
        webSocket
        ? "GET \(target.pathAndQuery) HTTP/1.1\r\nHost: \(target.hostHeader)\r\nUpgrade: websocket\r\n"
            + "Connection: Upgrade\r\nSec-WebSocket-Key: c2x1aWNlLWxvYWQtd3Mta2V5\r\nSec-WebSocket-Version: 13\r\n"
            + "User-Agent: sluice-load\r\n\r\n"
        : "GET \(target.pathAndQuery) HTTP/1.1\r\nHost: \(target.hostHeader)\r\nAccept: text/event-stream\r\n"
            + "Cache-Control: no-cache\r\nUser-Agent: sluice-load\r\n\r\n"

    let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
    defer { try? group.syncShutdownGracefully() }
    var loops: [any EventLoop] = []
    for loop in group.makeIterator() { loops.append(loop) }
    let runners = loops.enumerated().map { index, loop in
        let share = connections / loops.count + (index < connections % loops.count ? 1 : 0)
        return SubscriberLoopRunner(
            loop: loop, target: target, request: request, count: share, connectsPerSecond: ramp / Double(loops.count),
            webSocket: webSocket)
    }
    let begin = monotonicNanos()
    runners.forEach { $0.start() }

    var established = 0
    var failed = 0
    let establishDeadline = begin + UInt64(establishTimeout * 1e9)
    while true {
        usleep(100_000)
        let progress = try runners.map { try $0.progress().wait() }
        established = progress.reduce(0) { $0 + $1.0 }
        failed = progress.reduce(0) { $0 + $1.1 }
        if established + failed >= connections || monotonicNanos() > establishDeadline { break }
    }
    let establishSeconds = Double(monotonicNanos() - begin) / 1e9
    say("ESTABLISHED \(established) of \(connections) (failed \(failed)) in \(twoDecimals(establishSeconds)) s")

    let holdStart = monotonicNanos()
    let holdEnd = holdStart + UInt64(seconds * 1e9)
    var nextReport = holdStart + 5_000_000_000
    while monotonicNanos() < holdEnd {
        usleep(100_000)
        if !idle, monotonicNanos() >= nextReport {
            nextReport += 5_000_000_000
            let delivered = try runners.map { runner in try runner.loop.submit { runner.stats.delivered }.wait() }
            say("progress delivered=\(delivered.reduce(0, +))")
        }
    }
    let heldSeconds = Double(monotonicNanos() - holdStart) / 1e9
    let total = SubscriberStats()
    // Snapshot before closing so that our own closes are not counted as drops.
    for runner in runners {
        try runner.stop().wait()
        try runner.loop.submit { total.merge(runner.stats) }.wait()
    }

    var result = ResultLine()
    result.set("mode", idle ? "idle-sse" : webSocket ? "ws" : "sse")
    result.set("connections", connections)
    result.set("established", total.established)
    result.set("establish_seconds", establishSeconds)
    result.set("connect_errors", total.connectErrors)
    result.set("bad_status", total.badStatus)
    result.set("protocol_errors", total.protocolErrors)
    result.set("socket_errors", total.socketErrors)
    result.set("closed_before_head", total.closedBeforeHead)
    result.set("dropped_streams", total.droppedStreams)
    result.set("server_ended_streams", total.endedStreams)
    result.set("held_seconds", heldSeconds)
    result.set("delivered", total.delivered)
    result.set("delivered_without_timestamp", total.deliveredWithoutTimestamp)
    result.setDeliveries(total)
    say("RESULT \(result.json)")
}
