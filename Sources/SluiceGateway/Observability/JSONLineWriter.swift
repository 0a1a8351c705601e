import Foundation

/// Writes JSON log lines as bytes into one reused buffer: the access log writes tens of thousands of lines a
/// second on a thread that shares the machine with the request paths, so a line costs a few hundred nanoseconds,
/// not a string built piece by piece.
struct JSONLineWriter {
    var bytes: [UInt8] = []
    /// `"2026-01-31T12:34:56.` for the second last written, and that second.
    private var secondPrefix: [UInt8] = []
    private var prefixSecond = Int64.min

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
    }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// A JSON string (quoted, escaped), or `null`.
    mutating func string(_ value: String?) {
        guard var value else {
            raw("null")
            return
        }
        bytes.append(UInt8(ascii: "\""))
        value.withUTF8 { utf8 in
            // Most values need no escape: copied at once.
            if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                bytes.append(contentsOf: utf8)
                return
            }
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case UInt8(ascii: "\n"): raw("\\n")
                case UInt8(ascii: "\r"): raw("\\r")
                case UInt8(ascii: "\t"): raw("\\t")
                case 0..<0x20:
                    raw("\\u00")
                    bytes.append(Self.hex[Int(byte >> 4)])
                    bytes.append(Self.hex[Int(byte & 0xF)])
                default: bytes.append(byte)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    mutating func integer(_ value: Int) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            unsigned(UInt64(-Int64(value)))
        } else {
            unsigned(UInt64(value))
        }
    }

    mutating func unsigned(_ value: UInt64, width: Int = 1) {
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            while count < width {
                buffer[count] = UInt8(ascii: "0")
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[index]) }
        }
    }

    /// Nanoseconds as milliseconds with three decimals (`12.345`).
    mutating func milliseconds(_ nanoseconds: Int64) {
        let micros = UInt64(max(nanoseconds, 0) / 1000)
        unsigned(micros / 1000)
        bytes.append(UInt8(ascii: "."))
        unsigned(micros % 1000, width: 3)
    }

    /// `"2026-01-31T12:34:56.789Z"`, quoted.
    mutating func timestamp(milliseconds: Int64) {
        let second = milliseconds / 1000
        if second != prefixSecond {
            prefixSecond = second
            secondPrefix = Array(AccessLog.iso8601(milliseconds: second * 1000).utf8.dropLast(4))
        }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: secondPrefix)
        unsigned(UInt64(max(milliseconds % 1000, 0)), width: 3)
        raw("Z\"")
    }
}

extension AccessLogEntry {
    /// The line, as one JSON object, without its line feed.
    func write(to out: inout JSONLineWriter) {
        out.raw("{\"time\":")
        out.timestamp(milliseconds: timestampMs)
        out.raw(",\"api\":")
        out.string(api)
        out.raw(",\"plan\":")
        out.string(plan)
        out.raw(",\"application\":")
        out.string(application)
        out.raw(",\"entrypoint\":")
        out.string(entrypoint)
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
