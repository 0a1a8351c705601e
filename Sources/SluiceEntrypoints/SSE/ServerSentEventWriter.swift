public import NIOCore
public import SluiceCore

/// Formats Server-Sent Events as the `sse` entrypoint sends them.
///
/// A message is `id:`, `event: message`, one `data:` line per line of content (so multi-line content arrives
/// whole), then optional comments `:name: value` for headers and metadata, then a blank line.
public struct ServerSentEventWriter: Sendable {
    public var headersAsComment: Bool
    public var metadataAsComment: Bool

    public init(headersAsComment: Bool, metadataAsComment: Bool) {
        self.headersAsComment = headersAsComment
        self.metadataAsComment = metadataAsComment
    }

    public func retry(milliseconds: Int, into buffer: inout ByteBuffer) {
        buffer.writeString("retry: \(milliseconds)\n\n")
    }

    public func heartbeat(into buffer: inout ByteBuffer) {
        buffer.writeString(":\n\n")
    }

    public func goaway(into buffer: inout ByteBuffer) {
        buffer.writeString("event: goaway\ndata: Stopping, please reconnect\n\n")
    }

    public func error(id: String, message: String, into buffer: inout ByteBuffer) {
        buffer.writeString("id: \(Self.singleLine(id))\nevent: error\n")
        writeData(ByteBuffer(string: message), into: &buffer)
        buffer.writeString("\n")
    }

    public func message(_ message: Message, into buffer: inout ByteBuffer) {
        if let id = message.id { buffer.writeString("id: \(Self.singleLine(id))\n") }
        buffer.writeString("event: message\n")
        writeData(message.content, into: &buffer)
        if headersAsComment {
            for header in message.headers.grouped {
                buffer.writeString(
                    ":\(Self.singleLine(header.name)): \(Self.singleLine(header.values.joined(separator: ",")))\n")
            }
        }
        if metadataAsComment {
            buffer.writeString(":sourceTimestamp: \(message.timestamp)\n")
            for key in message.metadata.keys.sorted() {
                buffer.writeString(":\(Self.singleLine(key)): \(Self.singleLine(message.metadata[key]!))\n")
            }
        }
        buffer.writeString("\n")
    }

    /// Writes `data:` lines: content is split on CRLF, CR and LF, as the SSE parsing rules split it back.
    func writeData(_ content: ByteBuffer, into buffer: inout ByteBuffer) {
        content.withUnsafeReadableBytes { bytes in
            var lineStart = 0
            var index = 0
            let count = bytes.count
            // Most content is one line: scan once, then copy it whole.
            while index < count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                    buffer.writeStaticString("data: ")
                    buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<index]))
                    buffer.writeStaticString("\n")
                    if byte == UInt8(ascii: "\r"), index + 1 < count, bytes[index + 1] == UInt8(ascii: "\n") {
                        index += 1
                    }
                    lineStart = index + 1
                }
                index += 1
            }
            buffer.writeStaticString("data: ")
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<count]))
            buffer.writeStaticString("\n")
        }
    }

    /// Field values cannot hold line breaks; they are replaced by spaces.
    static func singleLine(_ text: String) -> String {
        guard text.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return text }
        return String(text.map { $0 == "\n" || $0 == "\r" || $0 == "\r\n" ? " " : $0 })
    }
}
