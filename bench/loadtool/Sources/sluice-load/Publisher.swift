import NIOCore
import NIOPosix

/// Answers the publishers on one event loop saw. Touched only on that loop.
final class PublisherStats: @unchecked Sendable {
    var sent = 0
    var statuses: [Int: Int] = [:]
    var connectErrors = 0
    var protocolErrors = 0
    var socketErrors = 0
    var droppedConnections = 0
    var maxBacklog = 0
    var requestLatenciesMicros: [UInt32] = []

    func merge(_ other: PublisherStats) {
        sent += other.sent
        for (status, count) in other.statuses { statuses[status, default: 0] += count }
        connectErrors += other.connectErrors
        protocolErrors += other.protocolErrors
        socketErrors += other.socketErrors
        droppedConnections += other.droppedConnections
        maxBacklog = max(maxBacklog, other.maxBacklog)
        requestLatenciesMicros += other.requestLatenciesMicros
    }
}

/// Reads the answers on one kept-alive publishing connection and hands the connection back to its runner.
final class PublisherHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let runner: PublisherLoopRunner
    private let slot: Int
    private var reader = HTTPResponseReader()

    init(runner: PublisherLoopRunner, slot: Int) {
        self.runner = runner
        self.slot = slot
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        var failed = false
        buffer.withUnsafeReadableBytes { bytes in
            var index = 0
            while index < bytes.count {
                do {
                    _ = try reader.read(bytes, index: &index, body: { _ in })
                    if reader.isComplete {
                        let status = reader.status
                        reader.reset()
                        runner.answered(slot: slot, status: status)
                    }
                } catch {
                    failed = true
                    return
                }
            }
        }
        if failed {
            runner.stats.protocolErrors += 1
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        runner.closed(slot: slot)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        runner.stats.socketErrors += 1
        context.close(promise: nil)
    }
}

/// Publishes one event loop's share: a fixed rate spread over its connections (one request in flight on each),
/// or as fast as answers come back. Each message's content starts with `t=<unix nanos>;`. Runs on `loop`.
final class PublisherLoopRunner: @unchecked Sendable {
    private struct Slot {
        var channel: (any Channel)?
        var busy = false
        var sentAt: UInt64 = 0
    }

    let loop: any EventLoop
    let stats = PublisherStats()
    private let target: Target
    private let size: Int
    private let ratePerSecond: Double?
    private var slots: [Slot]
    private var startNanos: UInt64 = 0
    private var endNanos: UInt64 = 0
    private var sending = false
    private var due = 0
    private var pacer: RepeatedTask?
    private let head: String
    private let padding: [UInt8]

    init(loop: any EventLoop, target: Target, connections: Int, size: Int, ratePerSecond: Double?) {
        self.loop = loop
        self.target = target
        self.size = size
        self.ratePerSecond = ratePerSecond
        self.slots = Array(repeating: Slot(), count: connections)
        head =
            "POST \(target.pathAndQuery) HTTP/1.1\r\nHost: \(target.hostHeader)\r\nContent-Type: text/plain\r\n"
            + "User-Agent: sluice-load\r\nContent-Length: \(size)\r\n\r\n"
        padding = Array(repeating: UInt8(ascii: "x"), count: size)
    }

    func connect() -> EventLoopFuture<Void> {
        loop.flatSubmit {
            let connects = self.slots.indices.map { slot in
                ClientBootstrap(group: self.loop)
                    .connectTimeout(.seconds(10))
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .channelInitializer { channel in
                        do {
                            try channel.pipeline.syncOperations.addHandler(PublisherHandler(runner: self, slot: slot))
                            return channel.eventLoop.makeSucceededVoidFuture()
                        } catch {
                            return channel.eventLoop.makeFailedFuture(error)
                        }
                    }
                    .connect(to: self.target.address)
                    .map { channel in self.slots[slot].channel = channel }
                    .recover { _ in self.stats.connectErrors += 1 }
            }
            return EventLoopFuture.andAllComplete(connects, on: self.loop)
        }
    }

    func start(seconds: Double) {
        loop.execute {
            self.startNanos = monotonicNanos()
            self.endNanos = self.startNanos + UInt64(seconds * 1e9)
            self.sending = true
            if self.ratePerSecond == nil {
                for slot in self.slots.indices { self.send(slot: slot) }
            }
            self.pacer = self.loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { task in
                let now = monotonicNanos()
                if now >= self.endNanos {
                    self.sending = false
                    task.cancel()
                    return
                }
                guard let rate = self.ratePerSecond else { return }
                let shouldHaveSent = Int(rate * Double(now - self.startNanos) / 1e9) + 1
                self.due = shouldHaveSent - self.stats.sent
                self.stats.maxBacklog = max(self.stats.maxBacklog, self.due)
                self.sendDue()
            }
        }
    }

    private func sendDue() {
        guard sending else { return }
        for slot in slots.indices where due > 0 && !slots[slot].busy && slots[slot].channel != nil {
            send(slot: slot)
            due -= 1
        }
    }

    private func send(slot: Int) {
        guard sending, monotonicNanos() < endNanos, let channel = slots[slot].channel else { return }
        var buffer = channel.allocator.buffer(capacity: head.utf8.count + size)
        buffer.writeString(head)
        let stamp = "t=\(wallClockNanos());"
        let stampBytes = Array(stamp.utf8.prefix(size))
        buffer.writeBytes(stampBytes)
        buffer.writeBytes(padding[stampBytes.count...])
        slots[slot].busy = true
        slots[slot].sentAt = monotonicNanos()
        stats.sent += 1
        channel.writeAndFlush(buffer, promise: nil)
    }

    func answered(slot: Int, status: Int) {
        stats.statuses[status, default: 0] += 1
        let micros = (monotonicNanos() - slots[slot].sentAt) / 1000
        if stats.requestLatenciesMicros.count < 20_000_000 {
            stats.requestLatenciesMicros.append(UInt32(clamping: micros))
        }
        slots[slot].busy = false
        if ratePerSecond == nil {
            send(slot: slot)
        } else if due > 0 {
            send(slot: slot)
            due -= 1
        }
    }

    func closed(slot: Int) {
        if sending { stats.droppedConnections += 1 }
        slots[slot].channel = nil
        slots[slot].busy = false
    }

    var inFlight: EventLoopFuture<Int> {
        loop.submit { self.slots.filter { $0.busy && $0.channel != nil }.count }
    }

    func close() -> EventLoopFuture<Void> {
        loop.flatSubmit {
            self.sending = false
            self.pacer?.cancel()
            let closes = self.slots.compactMap(\.channel).map { channel -> EventLoopFuture<Void> in
                let promise = self.loop.makePromise(of: Void.self)
                channel.close(promise: promise)
                return promise.futureResult.recover { _ in }
            }
            return EventLoopFuture.andAllComplete(closes, on: self.loop)
        }
    }
}

/// `publish`: POST timestamped messages at a fixed rate or flat out, for a bounded time, and report the answers.
func runPublisher(_ options: Options) throws {
    let target = try Target(url: options.string("url"))
    let connections = max(1, try options.int("connections", default: 4))
    let size = try options.int("size", default: 1024)
    let seconds = try options.double("duration", default: 15)
    let threads = max(1, try options.int("threads", default: 1))
    let flatOut = options.flag("max")
    guard flatOut || options.has("rate") else { throw UsageError(description: "publish needs --rate R or --max") }
    let rate = flatOut ? nil : try options.double("rate", default: 0)
    raiseOpenFileLimit()

    let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
    defer { try? group.syncShutdownGracefully() }
    var loops: [any EventLoop] = []
    for loop in group.makeIterator() { loops.append(loop) }
    loops = Array(loops.prefix(connections))
    let runners = loops.enumerated().map { index, loop in
        let share = connections / loops.count + (index < connections % loops.count ? 1 : 0)
        return PublisherLoopRunner(
            loop: loop, target: target, connections: share, size: size,
            ratePerSecond: rate.map { $0 * Double(share) / Double(connections) }
        )
    }
    for runner in runners { try runner.connect().wait() }
    let begin = monotonicNanos()
    runners.forEach { $0.start(seconds: seconds) }
    usleep(UInt32(seconds * 1e6))
    // Let the last answers arrive, for at most two seconds.
    let drainDeadline = monotonicNanos() + 2_000_000_000
    while monotonicNanos() < drainDeadline {
        let inFlight = try runners.map { try $0.inFlight.wait() }.reduce(0, +)
        if inFlight == 0 { break }
        usleep(20_000)
    }
    let elapsed = Double(monotonicNanos() - begin) / 1e9
    let total = PublisherStats()
    for runner in runners {
        try runner.close().wait()
        try runner.loop.submit { total.merge(runner.stats) }.wait()
    }

    let ok = total.statuses.filter { (200..<300).contains($0.key) }.values.reduce(0, +)
    var result = ResultLine()
    result.set("mode", "publish")
    result.set("connections", connections)
    result.set("target_rate", rate ?? -1)
    result.set("seconds", seconds)
    result.set("sent", total.sent)
    result.set("ok", ok)
    result.set("not_ok", total.statuses.values.reduce(0, +) - ok)
    result.set(
        "statuses", total.statuses.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ","))
    result.set("ok_per_second", Double(ok) / min(elapsed, seconds))
    result.set("connect_errors", total.connectErrors)
    result.set("protocol_errors", total.protocolErrors)
    result.set("socket_errors", total.socketErrors)
    result.set("dropped_connections", total.droppedConnections)
    result.set("max_backlog", total.maxBacklog)
    var latencies = total.requestLatenciesMicros
    if !latencies.isEmpty {
        latencies.sort()
        func percentile(_ p: Double) -> Double {
            Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1000
        }
        result.set("request_p50_ms", percentile(0.50))
        result.set("request_p99_ms", percentile(0.99))
        result.set("request_max_ms", Double(latencies[latencies.count - 1]) / 1000)
    }
    say("RESULT \(result.json)")
}
