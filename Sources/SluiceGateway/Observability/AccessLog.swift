import Foundation
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc

private let systemWrite = Glibc.write
#else
import Darwin

private let systemWrite = Darwin.write
#endif

/// A line waiting to be written: a request's or stream's, or a logged message's.
enum LogRecord: Sendable {
    case access(AccessLogEntry)
    case message(MessageLogEntry)
}

/// One access log line: a request, or a stream when it ends.
struct AccessLogEntry: Sendable {
    /// Milliseconds since 1970 when the request's head came.
    var timestampMs: Int64
    var api: String?
    var plan: String?
    var application: String?
    var entrypoint: String?
    var method: String
    /// The request target's path and query; secret query parameters are masked when the line is written
    /// (``AccessLog/maskedTarget(_:secretParameters:)``).
    var target: String
    var secretParameters: Set<String>
    var status: Int
    /// From the request's head to its answer's end.
    var durationNanoseconds: Int64
    /// From the request's head to the answer's head, when the two differ (streams).
    var firstByteNanoseconds: Int64?
    var bytesIn: Int
    var bytesOut: Int
    /// For streams and publishes: messages sent to the client and taken from it.
    var messagesIn: Int?
    var messagesOut: Int?
    var stream: Bool = false
}

/// The access log: lines go to a bounded buffer and the request goes on; a thread of its own writes them. A full
/// buffer drops lines and counts them; a request never waits for the log.
///
/// Lines come two ways. Requests answered on an event loop format their line there, into that loop's
/// ``LoopLines``, which hands the log a chunk of lines at a time (when it fills, and at most
/// ``LoopLines/handOverDelay`` after its first line): one lock per chunk, and the line is formatted where its
/// values are at hand. Entries from elsewhere (WebSocket connections, message lines of streams) are handed over one
/// by one and formatted by the writer.
final class AccessLog: Sendable {
    private struct State {
        var pending: [LogRecord] = []
        /// Chunks of formatted lines from the event loops, and how many lines each holds.
        var chunks: [(bytes: [UInt8], lines: Int)] = []
        var chunkLines = 0
        /// Lines taken by the writer and not written yet (for ``flush()``).
        var writing = 0
        var stopped = false
        /// The loops' line buffers, for ``flush()``.
        var loops: [ObjectIdentifier: LoopLines] = [:]

        var isIdle: Bool { pending.isEmpty && chunks.isEmpty && writing == 0 }
    }

    private let state = Mutex(State())
    private let capacity: Int
    /// The most lines a loop's chunk holds: an eighth of the buffer, so that a chunk always fits in an empty one.
    let chunkLines: Int
    private let sink: Sink
    private let metrics: GatewayMetrics?

    final class Sink: @unchecked Sendable {
        // Only the writer thread touches the handle after init.
        let handle: FileHandle
        init(handle: FileHandle) { self.handle = handle }

        /// Writes all of `buffer` (a short write is continued; an error drops the rest of the batch).
        func write(_ buffer: UnsafeRawBufferPointer) {
            let descriptor = handle.fileDescriptor
            var offset = 0
            while offset < buffer.count {
                let written = systemWrite(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }

    /// Opens the output (a file is created when missing, appended to).
    init(output: ObservabilitySettings.AccessLogOutput, capacity: Int, metrics: GatewayMetrics?) throws {
        switch output {
        case .off, .stdout:
            sink = Sink(handle: FileHandle.standardOutput)
        case .file(let path):
            if !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path, contents: nil) else {
                    throw AccessLogError(message: "cannot create the access log file '\(path)'")
                }
            }
            guard let handle = FileHandle(forWritingAtPath: path) else {
                throw AccessLogError(message: "cannot open the access log file '\(path)' for writing")
            }
            handle.seekToEndOfFile()
            sink = Sink(handle: handle)
        }
        self.capacity = capacity
        self.chunkLines = max(1, capacity / 8)
        self.metrics = metrics
        let thread = Thread { [self] in self.runWriter() }
        thread.name = "sluice-access-log"
        thread.start()
    }

    struct AccessLogError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Hands an entry to the writer; drops it (and counts the drop) when the buffer is full.
    func append(_ entry: AccessLogEntry) {
        append(record: .access(entry))
    }

    func append(_ entry: MessageLogEntry) {
        append(record: .message(entry))
    }

    private func append(record entry: LogRecord) {
        let taken = state.withLock { state -> Bool in
            guard state.pending.count + state.chunkLines < capacity, !state.stopped else { return false }
            state.pending.append(entry)
            return true
        }
        if !taken { metrics?.accessLogDropped.increment() }
    }

    /// The line buffer of `eventLoop` (made at its first request; kept for the life of the log).
    func lines(on eventLoop: any EventLoop) -> LoopLines {
        state.withLock { state in
            let key = ObjectIdentifier(eventLoop)
            if let found = state.loops[key] { return found }
            let made = LoopLines(eventLoop: eventLoop, log: self)
            state.loops[key] = made
            return made
        }
    }

    /// Takes a loop's chunk of lines; drops it whole (and counts its lines) when the buffer has no room.
    fileprivate func take(chunk: [UInt8], lines: Int) {
        let taken = state.withLock { state -> Bool in
            guard state.pending.count + state.chunkLines + lines <= capacity, !state.stopped else { return false }
            state.chunks.append((chunk, lines))
            state.chunkLines += lines
            return true
        }
        if !taken { metrics?.accessLogDropped.increment(by: Int64(lines)) }
    }

    /// Waits until every line of the requests answered so far is written (tests, shutdown): the loops hand over
    /// what they hold first.
    func flush() async {
        let loops = state.withLock { Array($0.loops.values) }
        for lines in loops {
            try? await lines.eventLoop.submit { lines.handOver() }.get()
        }
        while state.withLock({ !$0.isIdle }) {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Stops the writer once what is buffered is written.
    func stop() {
        state.withLock { $0.stopped = true }
    }

    private func runWriter() {
        let writer = JSONLineWriter(capacity: 1 << 20)
        // Two buffers swapped in turn, so that appending never grows a fresh array.
        var batch: [LogRecord] = []
        batch.reserveCapacity(min(capacity, 4096))
        var chunks: [(bytes: [UInt8], lines: Int)] = []
        while true {
            batch.removeAll(keepingCapacity: true)
            chunks.removeAll(keepingCapacity: true)
            let stopped = state.withLock { state -> Bool in
                swap(&batch, &state.pending)
                swap(&chunks, &state.chunks)
                state.writing = batch.count + state.chunkLines
                state.chunkLines = 0
                return state.stopped
            }
            if !batch.isEmpty || !chunks.isEmpty {
                var lines = 0
                for chunk in chunks {
                    chunk.bytes.withUnsafeBytes { sink.write($0) }
                    lines += chunk.lines
                }
                if !batch.isEmpty {
                    writer.reset()
                    for entry in batch {
                        switch entry {
                        case .access(let line): line.write(to: writer)
                        case .message(let line): line.write(to: writer)
                        }
                        writer.byte(UInt8(ascii: "\n"))
                    }
                    writer.withBytes { sink.write($0) }
                    lines += batch.count
                }
                metrics?.accessLogWritten.increment(by: Int64(lines))
                state.withLock { $0.writing = 0 }
            } else if stopped {
                return
            } else {
                // Polled rather than signalled, so that a request only takes a lock and appends.
                usleep(10_000)
            }
        }
    }

    // MARK: Formatting

    /// The request target with the values of secret query parameters replaced by `****`: the API key
    /// parameter and any whose name says key, token, secret, password or signature.
    static func maskedTarget(_ target: String, secretParameters: Set<String>) -> String {
        guard let question = target.firstIndex(of: "?") else { return target }
        let path = target[..<question]
        let query = target[target.index(after: question)...]
        let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            let name = pair.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            return isSecret(name: name, secretParameters: secretParameters) ? "\(name)=****" : String(pair)
        }
        return path + "?" + pairs.joined(separator: "&")
    }

    static func isSecret(name: String, secretParameters: Set<String>) -> Bool {
        let lowercased = (name.removingPercentEncoding ?? name).lowercased()
        if secretParameters.contains(lowercased) { return true }
        return ["key", "token", "secret", "password", "signature", "auth", "credential", "session"].contains {
            lowercased.contains($0)
        }
    }

    /// `2025-01-31T12:34:56.789Z`.
    static func iso8601(milliseconds: Int64) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(milliseconds % 1000), 3))Z"
    }
}

/// The access log lines of one event loop's requests, formatted on the loop and handed to the log a chunk at a time
/// (see ``AccessLog``). Used only on its loop.
final class LoopLines: @unchecked Sendable {
    /// A chunk is handed over once it holds this many bytes (or the log's ``AccessLog/chunkLines``)...
    static let chunkBytes = 64 * 1024
    /// ...or this long after its first line, whichever comes first.
    static let handOverDelay = TimeAmount.milliseconds(20)

    let eventLoop: any EventLoop
    /// Weak: the log keeps its loops' buffers, and a buffer's pending hand-over may outlive a log that is gone
    /// (its lines then go nowhere).
    private weak var log: AccessLog?
    private let chunkLines: Int
    private let writer = JSONLineWriter(capacity: chunkBytes + 4096)
    private var lines = 0
    private var handOverScheduled = false

    fileprivate init(eventLoop: any EventLoop, log: AccessLog) {
        self.eventLoop = eventLoop
        self.log = log
        self.chunkLines = log.chunkLines
    }

    func append(_ entry: AccessLogEntry) {
        eventLoop.assertInEventLoop()
        entry.write(to: writer)
        ended()
    }

    func append(_ entry: MessageLogEntry) {
        eventLoop.assertInEventLoop()
        entry.write(to: writer)
        ended()
    }

    private func ended() {
        writer.byte(UInt8(ascii: "\n"))
        lines += 1
        if writer.count >= Self.chunkBytes || lines >= chunkLines {
            handOver()
        } else if !handOverScheduled {
            handOverScheduled = true
            eventLoop.scheduleTask(in: Self.handOverDelay) { [weak self] in
                guard let self else { return }
                self.handOverScheduled = false
                self.handOver()
            }
        }
    }

    /// Gives the log what is buffered.
    func handOver() {
        eventLoop.assertInEventLoop()
        guard lines > 0 else { return }
        log?.take(chunk: writer.bytes, lines: lines)
        writer.reset()
        lines = 0
    }
}
