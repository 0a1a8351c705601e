/// Reads one HTTP/1.1 response from raw bytes: the head, then a body framed by `Content-Length`, chunked transfer
/// coding, or the end of the connection. Body bytes go to a sink as they arrive; nothing larger than the head is
/// ever buffered, so ten thousand streaming readers cost a few hundred bytes each.
struct HTTPResponseReader {
    enum Event {
        case needMore
        case headComplete(status: Int)
        case messageComplete
    }

    enum ReadError: Error {
        case headTooLarge
        case malformedHead
        case malformedChunk
    }

    private enum Framing {
        case length(Int)
        case chunked
        case untilClose
    }

    private enum ChunkState {
        case size
        case sizeExtension
        case data(Int)
        case dataEnd
        case trailer(lineLength: Int)
    }

    private enum State {
        case head
        case body(Framing)
        case chunked(ChunkState)
        case done
    }

    private var state = State.head
    private var head: [UInt8] = []
    private var chunkSize = 0
    private(set) var status = 0
    static let maxHeadBytes = 16 << 10

    init() {
        head.reserveCapacity(256)
    }

    /// Whether the whole response has been read (a head with an empty body is complete at once).
    var isComplete: Bool {
        if case .done = state { return true }
        return false
    }

    /// Prepares for the next response on a kept-alive connection.
    mutating func reset() {
        state = .head
        head.removeAll(keepingCapacity: true)
        status = 0
    }

    /// Consumes bytes from `bytes[index...]`, sending body bytes to `body`. Returns at each head or message end so
    /// the caller can react; call again with the updated `index` until it is `bytes.count`.
    mutating func read(
        _ bytes: UnsafeRawBufferPointer,
        index: inout Int,
        body: (UnsafeRawBufferPointer) -> Void
    ) throws -> Event {
        while index < bytes.count {
            switch state {
            case .head:
                let byte = bytes[index]
                index += 1
                head.append(byte)
                if head.count > Self.maxHeadBytes { throw ReadError.headTooLarge }
                let n = head.count
                if byte == UInt8(ascii: "\n"), n >= 4, head[n - 2] == UInt8(ascii: "\r"),
                    head[n - 3] == UInt8(ascii: "\n"),
                    head[n - 4] == UInt8(ascii: "\r")
                {
                    let framing = try parseHead()
                    switch framing {
                    case .chunked: chunkSize = 0; state = .chunked(.size)
                    case .length(0): state = .done
                    default: state = .body(framing)
                    }
                    return .headComplete(status: status)
                }
            case .body(.length(let remaining)):
                let take = min(remaining, bytes.count - index)
                body(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                index += take
                if take == remaining {
                    state = .done
                } else {
                    state = .body(.length(remaining - take))
                }
            case .body(.untilClose):
                body(UnsafeRawBufferPointer(rebasing: bytes[index...]))
                index = bytes.count
            case .body(.chunked):
                state = .chunked(.size)
            case .chunked(let chunk):
                switch chunk {
                case .size:
                    let byte = bytes[index]
                    index += 1
                    switch byte {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"):
                        chunkSize = chunkSize * 16 + Int(byte - UInt8(ascii: "0"))
                    case UInt8(ascii: "a")...UInt8(ascii: "f"):
                        chunkSize = chunkSize * 16 + Int(byte - UInt8(ascii: "a") + 10)
                    case UInt8(ascii: "A")...UInt8(ascii: "F"):
                        chunkSize = chunkSize * 16 + Int(byte - UInt8(ascii: "A") + 10)
                    case UInt8(ascii: ";"), UInt8(ascii: " "), UInt8(ascii: "\r"): state = .chunked(.sizeExtension)
                    case UInt8(ascii: "\n"): endOfSizeLine()
                    default: throw ReadError.malformedChunk
                    }
                    if chunkSize > 1 << 30 { throw ReadError.malformedChunk }
                case .sizeExtension:
                    let byte = bytes[index]
                    index += 1
                    if byte == UInt8(ascii: "\n") { endOfSizeLine() }
                case .data(let remaining):
                    let take = min(remaining, bytes.count - index)
                    body(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                    index += take
                    state = take == remaining ? .chunked(.dataEnd) : .chunked(.data(remaining - take))
                case .dataEnd:
                    let byte = bytes[index]
                    index += 1
                    if byte == UInt8(ascii: "\n") { chunkSize = 0; state = .chunked(.size) }
                case .trailer(let lineLength):
                    let byte = bytes[index]
                    index += 1
                    if byte == UInt8(ascii: "\n") {
                        if lineLength == 0 { state = .done } else { state = .chunked(.trailer(lineLength: 0)) }
                    } else if byte != UInt8(ascii: "\r") {
                        state = .chunked(.trailer(lineLength: lineLength + 1))
                    }
                }
            case .done:
                return .messageComplete
            }
            if case .done = state { return .messageComplete }
        }
        if case .done = state { return .messageComplete }
        return .needMore
    }

    private mutating func endOfSizeLine() {
        state = chunkSize == 0 ? .chunked(.trailer(lineLength: 0)) : .chunked(.data(chunkSize))
    }

    private mutating func parseHead() throws -> Framing {
        // Status line: HTTP/1.1 200 OK
        guard head.count > 12, head[8] == UInt8(ascii: " ") else { throw ReadError.malformedHead }
        var code = 0
        for offset in 9..<12 {
            let digit = head[offset]
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { throw ReadError.malformedHead }
            code = code * 10 + Int(digit - UInt8(ascii: "0"))
        }
        status = code
        let text = String(decoding: head, as: UTF8.self).lowercased()
        var framing = Framing.untilClose
        for line in text.split(separator: "\r\n").dropFirst() {
            if line.hasPrefix("transfer-encoding:"), line.contains("chunked") {
                framing = .chunked
            } else if line.hasPrefix("content-length:"), case .untilClose = framing {
                let value = line.dropFirst("content-length:".count).trimmingSpaces()
                guard let length = Int(value) else { throw ReadError.malformedHead }
                framing = .length(length)
            }
        }
        if code == 204 || code == 304 || (100..<200).contains(code) { framing = .length(0) }
        return framing
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var result = self
        while result.first == " " || result.first == "\t" { result = result.dropFirst() }
        while result.last == " " || result.last == "\t" { result = result.dropLast() }
        return result
    }
}
