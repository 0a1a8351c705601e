import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import SluiceGateway

/// The access log's way from an event loop to the file: lines formatted on the loop, handed over in chunks.
@Suite("access log: loop buffers and the writer")
struct AccessLogTests {
    static func entry(_ index: Int) -> AccessLogEntry {
        AccessLogEntry(
            timestampMs: 1_767_225_600_000 + Int64(index), api: "api", plan: "plan", application: nil,
            entrypoint: "http-post", method: "POST", target: "/p/\(index)", secretParameters: [], status: 202,
            durationNanoseconds: 1_000_000, firstByteNanoseconds: nil, bytesIn: 1, bytesOut: 0, messagesIn: 1,
            messagesOut: nil)
    }

    /// A log writing to a new temporary file, and the line buffer of one loop.
    struct Setup {
        let file = NSTemporaryDirectory() + "sluice-access-\(UUID().uuidString).log"
        let metrics = GatewayMetrics()
        let log: AccessLog
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let lines: LoopLines

        init(capacity: Int) throws {
            log = try AccessLog(output: .file(file), capacity: capacity, metrics: metrics)
            lines = log.lines(on: loop)
        }

        func remove() {
            try? FileManager.default.removeItem(atPath: file)
        }
    }

    static func paths(in file: String) throws -> [String] {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            return try #require(object["path"] as? String)
        }
    }

    @Test("lines a loop formats reach the file on their own, in order, without a flush")
    func handedOverByTime() async throws {
        let setup = try Setup(capacity: 1000)
        let (file, log, loop, lines) = (setup.file, setup.log, setup.loop, setup.lines)
        defer {
            log.stop()
            setup.remove()
        }
        #expect(log.lines(on: loop) === lines, "one buffer per loop")
        try await loop.submit { for index in 0..<5 { lines.append(Self.entry(index)) } }.get()
        // No flush: the loop hands its lines over shortly after the first one (20 ms), and the writer writes them.
        let deadline = ContinuousClock.now + .seconds(5)
        while (try? Self.paths(in: file).count) ?? 0 < 5, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try Self.paths(in: file) == (0..<5).map { "/p/\($0)" })
    }

    @Test("a chunk holds at most an eighth of the buffer's lines, so a small buffer still takes every line")
    func chunksFitTheBuffer() async throws {
        let setup = try Setup(capacity: 16)
        let (file, metrics, log, loop, lines) = (setup.file, setup.metrics, setup.log, setup.loop, setup.lines)
        defer {
            log.stop()
            setup.remove()
        }
        #expect(log.chunkLines == 2)
        // Written a few at a time with pauses, so the writer keeps up: every line arrives, none dropped.
        for batch in 0..<10 {
            try await loop.submit { for index in 0..<3 { lines.append(Self.entry(batch * 3 + index)) } }.get()
            try await Task.sleep(for: .milliseconds(30))
        }
        await log.flush()
        #expect(try Self.paths(in: file) == (0..<30).map { "/p/\($0)" })
        #expect(metrics.render().contains("sluice_access_log_dropped_total 0"))
        #expect(metrics.render().contains("sluice_access_log_written_total 30"))
    }

    @Test("flush takes what the loops hold; after stop, lines are dropped and counted, never written")
    func flushAndStop() async throws {
        let setup = try Setup(capacity: 1000)
        let (file, metrics, log, loop, lines) = (setup.file, setup.metrics, setup.log, setup.loop, setup.lines)
        defer { setup.remove() }
        try await loop.submit { lines.append(Self.entry(1)) }.get()
        await log.flush()
        #expect(try Self.paths(in: file) == ["/p/1"])
        log.stop()
        try await loop.submit {
            lines.append(Self.entry(2))
            lines.handOver()
        }.get()
        try await Task.sleep(for: .milliseconds(50))
        #expect(try Self.paths(in: file) == ["/p/1"])
        #expect(metrics.render().contains("sluice_access_log_dropped_total 1"))
    }

    @Test("a loop's hand-over still pending when its log is gone does nothing (a gateway stopped mid-traffic)")
    func logGoneFirst() async throws {
        weak var gone: AccessLog?
        let lines: LoopLines
        let loop: any EventLoop
        do {
            let setup = try Setup(capacity: 100)
            defer { setup.remove() }
            (lines, loop) = (setup.lines, setup.loop)
            gone = setup.log
            // A line, whose hand-over is scheduled 20 ms later; the log stops and goes before that.
            try await loop.submit { lines.append(Self.entry(1)) }.get()
            setup.log.stop()
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while gone != nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
        #expect(gone == nil, "the stopped log is released")
        try await Task.sleep(for: .milliseconds(50))
        // The buffer outlived its log: the hand-over ran and dropped the line; another line is taken and dropped.
        try await loop.submit {
            lines.append(Self.entry(2))
            lines.handOver()
        }.get()
    }
}
