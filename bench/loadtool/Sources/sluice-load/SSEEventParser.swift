#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A streaming `text/event-stream` reader that keeps only the first bytes of each line: enough to tell the field
/// and to read the `t=<unix nanos>;` send timestamp at the start of an event's data, whatever the payload size.
struct SSEEventParser {
    private static let prefixCapacity = 48
    private var prefix = [UInt8](repeating: 0, count: SSEEventParser.prefixCapacity)
    private var prefixCount = 0
    private var lineLength = 0
    private var eventHasData = false
    private var eventTimestamp: Int64 = -1

    /// Feeds body bytes; calls `onEvent` with the embedded send timestamp (or -1) for each dispatched event that
    /// carried data. Comments (heartbeats), `retry:` and `id:`-only blocks are not events.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, onEvent: (Int64) -> Void) {
        guard let base = bytes.baseAddress else { return }
        var index = 0
        let count = bytes.count
        while index < count {
            let start = base + index
            let remaining = count - index
            if let newline = memchr(start, Int32(UInt8(ascii: "\n")), remaining) {
                let segment = UnsafeRawPointer(newline) - start
                append(start, segment)
                index += segment + 1
                endOfLine(onEvent: onEvent)
            } else {
                append(start, remaining)
                index = count
            }
        }
    }

    private mutating func append(_ start: UnsafeRawPointer, _ length: Int) {
        let room = Self.prefixCapacity - prefixCount
        if room > 0, length > 0 {
            let take = min(room, length)
            prefix.withUnsafeMutableBytes { destination in
                (destination.baseAddress! + prefixCount).copyMemory(from: start, byteCount: take)
            }
            prefixCount += take
        }
        lineLength += length
    }

    private mutating func endOfLine(onEvent: (Int64) -> Void) {
        var length = lineLength
        if length > 0, length <= prefixCount, prefix[length - 1] == UInt8(ascii: "\r") { length -= 1 }
        defer {
            prefixCount = 0
            lineLength = 0
        }
        if length == 0 {
            if eventHasData { onEvent(eventTimestamp) }
            eventHasData = false
            eventTimestamp = -1
            return
        }
        let visible = min(length, prefixCount)
        let startsWithData =
            visible >= 4 && prefix[0] == UInt8(ascii: "d") && prefix[1] == UInt8(ascii: "a")
            && prefix[2] == UInt8(ascii: "t") && prefix[3] == UInt8(ascii: "a")
        guard startsWithData, length == 4 || (visible >= 5 && prefix[4] == UInt8(ascii: ":")) else { return }
        // Only the first data line of an event carries the timestamp.
        guard !eventHasData else { return }
        eventHasData = true
        guard length > 4 else { return }
        var position = 5
        if position < visible, prefix[position] == UInt8(ascii: " ") { position += 1 }
        guard position + 2 < visible, prefix[position] == UInt8(ascii: "t"), prefix[position + 1] == UInt8(ascii: "=")
        else {
            return
        }
        position += 2
        var value: Int64 = 0
        var digits = 0
        while position < visible, prefix[position] >= UInt8(ascii: "0"), prefix[position] <= UInt8(ascii: "9") {
            value = value * 10 + Int64(prefix[position] - UInt8(ascii: "0"))
            position += 1
            digits += 1
        }
        if digits > 0, position < visible, prefix[position] == UInt8(ascii: ";") { eventTimestamp = value }
    }
}
