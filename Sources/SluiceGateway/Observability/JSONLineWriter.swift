import Foundation

/// Writes JSON log lines as bytes into one reused buffer: the access log writes tens of thousands of lines a
/// second on the event loops that serve the requests, so a line costs a few hundred nanoseconds, not a string built
/// piece by piece. The bytes are written straight into memory the writer owns (no copy-on-write checks per piece).
final class JSONLineWriter {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Bytes written since the last ``reset()``.
    private(set) var count = 0
    /// `"2026-01-31T12:34:56.` for the second last written, and that second.
    private var secondPrefix: [UInt8] = []
    private var prefixSecond = Int64.min

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit {
        base.deallocate()
    }

    /// A copy of what was written.
    var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        body(UnsafeRawBufferPointer(start: base, count: count))
    }

    func reset() {
        count = 0
    }

    @inline(__always)
    private func reserve(_ more: Int) {
        if count + more > capacity { grow(to: count + more) }
    }

    private func grow(to needed: Int) {
        let grown = max(capacity * 2, needed)
        let moved = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        moved.update(from: base, count: count)
        base.deallocate()
        base = moved
        capacity = grown
    }

    func byte(_ value: UInt8) {
        reserve(1)
        base[count] = value
        count += 1
    }

    private func append(_ buffer: UnsafeBufferPointer<UInt8>) {
        guard let source = buffer.baseAddress, buffer.count > 0 else { return }
        reserve(buffer.count)
        (base + count).update(from: source, count: buffer.count)
        count += buffer.count
    }

    func raw(_ text: StaticString) {
        text.withUTF8Buffer { append($0) }
    }

    /// A JSON string (quoted, escaped), or `null`.
    func string(_ value: String?) {
        guard var value else {
            raw("null")
            return
        }
        byte(UInt8(ascii: "\""))
        value.withUTF8 { utf8 in
            // Most values need no escape: copied at once.
            if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                append(utf8)
                return
            }
            for character in utf8 {
                switch character {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case UInt8(ascii: "\n"): raw("\\n")
                case UInt8(ascii: "\r"): raw("\\r")
                case UInt8(ascii: "\t"): raw("\\t")
                case 0..<0x20:
                    raw("\\u00")
                    byte(Self.hex[Int(character >> 4)])
                    byte(Self.hex[Int(character & 0xF)])
                default: byte(character)
                }
            }
        }
        byte(UInt8(ascii: "\""))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    func integer(_ value: Int) {
        if value < 0 {
            byte(UInt8(ascii: "-"))
            unsigned(UInt64(value.magnitude))
        } else {
            unsigned(UInt64(value))
        }
    }

    /// The decimal digits of `value`, zero-padded to `width`.
    func unsigned(_ value: UInt64, width: Int = 1) {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        let written = max(digits, width)
        reserve(written)
        var position = count + written - 1
        rest = value
        repeat {
            base[position] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            position -= 1
        } while rest > 0
        while position >= count {
            base[position] = UInt8(ascii: "0")
            position -= 1
        }
        count += written
    }

    /// Nanoseconds as milliseconds with three decimals (`12.345`).
    func milliseconds(_ nanoseconds: Int64) {
        let micros = UInt64(max(nanoseconds, 0) / 1000)
        unsigned(micros / 1000)
        byte(UInt8(ascii: "."))
        unsigned(micros % 1000, width: 3)
    }

    /// `,"api":…,"plan":…,"application":…,"entrypoint":…`: what a request's and a message's lines both name.
    func labels(api: String?, plan: String?, application: String?, entrypoint: String?) {
        raw(",\"api\":")
        string(api)
        raw(",\"plan\":")
        string(plan)
        raw(",\"application\":")
        string(application)
        raw(",\"entrypoint\":")
        string(entrypoint)
    }

    /// `"2026-01-31T12:34:56.789Z"`, quoted.
    func timestamp(milliseconds: Int64) {
        let second = milliseconds / 1000
        if second != prefixSecond {
            prefixSecond = second
            secondPrefix = Array(AccessLog.iso8601(milliseconds: second * 1000).utf8.dropLast(4))
        }
        byte(UInt8(ascii: "\""))
        secondPrefix.withUnsafeBufferPointer { append($0) }
        unsigned(UInt64(max(milliseconds % 1000, 0)), width: 3)
        raw("Z\"")
    }
}

extension AccessLogEntry {
    /// The line, as one JSON object, without its line feed.
    func write(to out: JSONLineWriter) {
        out.raw("{\"time\":")
        out.timestamp(milliseconds: timestampMs)
        out.labels(api: api, plan: plan, application: application, entrypoint: entrypoint)
        out.raw(",\"method\":")
        out.string(method)
        out.raw(",\"path\":")
        if target.utf8.contains(UInt8(ascii: "?")) {
            out.string(AccessLog.maskedTarget(target, secretParameters: secretParameters))
        } else {
            out.string(target)
        }
        out.raw(",\"status\":")
        out.integer(status)
        out.raw(",\"durationMs\":")
        out.milliseconds(durationNanoseconds)
        if let firstByteNanoseconds {
            out.raw(",\"firstByteMs\":")
            out.milliseconds(firstByteNanoseconds)
        }
        out.raw(",\"bytesIn\":")
        out.integer(bytesIn)
        out.raw(",\"bytesOut\":")
        out.integer(bytesOut)
        if let messagesIn {
            out.raw(",\"messagesIn\":")
            out.integer(messagesIn)
        }
        if let messagesOut {
            out.raw(",\"messagesOut\":")
            out.integer(messagesOut)
        }
        if stream { out.raw(",\"kind\":\"stream\"}") } else { out.raw(",\"kind\":\"request\"}") }
    }
}
