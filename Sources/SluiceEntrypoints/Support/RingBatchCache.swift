import NIOCore
import SluiceCore
import SluiceEndpoints
import Synchronization

/// The most recent batches of a ring's messages, already encoded for the wire (Server-Sent Events, WebSocket
/// frames), shared by the event-loop streams of one API that use the same encoding.
///
/// An append wakes every stream of the ring, and streams that keep up then read from the same place: the first
/// encodes what the ring has from there, the others find that batch by where it starts and write the very same
/// buffer (also when more came in the meantime: they read that next). A thousand subscribers cost one encoding per
/// message instead of a thousand. A batch depends only on the messages (their ids are their own, the same for
/// every reader), never on the stream that encoded it.
package final class RingBatchCache: Sendable {
    /// The encoded messages of the ring from some offset up to `end`; `lastID` is the last message's id.
    package struct Batch: Sendable {
        package var bytes: ByteBuffer
        package var end: Int64
        package var lastID: String?
    }

    private struct Entry {
        /// Which ring: weak, so that a ring that went (a stopped tail) is never matched by a new one.
        weak var ring: InMemoryTopic?
        var start: Int64
        var batch: Batch
    }

    /// Batches kept. Default: 16.
    static let capacity = 16
    /// Bytes kept; the newest batch is kept whatever its size. Default: 16 MiB.
    static let capacityBytes = 16 << 20

    private let entries = Mutex<[Entry]>([])
    private let encoding: @Sendable ([Message], ByteBufferAllocator) -> ByteBuffer

    /// A cache whose batches `encoding` makes from a run of messages.
    package init(encoding: @escaping @Sendable ([Message], ByteBufferAllocator) -> ByteBuffer) {
        self.encoding = encoding
    }

    /// The longest batch kept of `ring` that starts at `start`.
    package func batch(of ring: InMemoryTopic, from start: Int64) -> Batch? {
        entries.withLock { entries in
            var found: Batch?
            for entry in entries where entry.start == start && entry.ring === ring {
                if found == nil || entry.batch.end > found!.end { found = entry.batch }
            }
            return found
        }
    }

    /// Encodes `messages`, which hold the offsets of `ring` from `start` on, and keeps the batch.
    package func encode(
        _ messages: [Message], of ring: InMemoryTopic, from start: Int64, allocator: ByteBufferAllocator
    ) -> Batch {
        let batch = Batch(
            bytes: encoding(messages, allocator), end: start + Int64(messages.count), lastID: messages.last?.id)
        entries.withLock { entries in
            entries.removeAll { $0.ring == nil || ($0.start == start && $0.ring === ring && $0.batch.end <= batch.end) }
            entries.append(Entry(ring: ring, start: start, batch: batch))
            if entries.count > Self.capacity { entries.removeFirst(entries.count - Self.capacity) }
            var bytes = entries.reduce(0) { $0 + $1.batch.bytes.readableBytes }
            while bytes > Self.capacityBytes, entries.count > 1 {
                bytes -= entries.removeFirst().batch.bytes.readableBytes
            }
        }
        return batch
    }
}

extension RingBatchCache {
    /// Batches of Server-Sent Events, exactly as the task path writes them for the same messages.
    package static func serverSentEvents(_ formatter: ServerSentEventWriter) -> RingBatchCache {
        RingBatchCache { messages, allocator in
            var events = allocator.buffer(capacity: messages.reduce(0) { $0 + $1.content.readableBytes + 48 })
            for message in messages { formatter.message(message, into: &events) }
            return events
        }
    }

    /// Batches of server WebSocket frames: one unmasked, unfragmented frame per message (RFC 6455 5.2), back to
    /// back, text when the content is valid UTF-8 and binary otherwise (as the task path's frames are).
    package static func webSocketFrames() -> RingBatchCache {
        RingBatchCache { messages, allocator in webSocketFrames(messages, allocator: allocator) }
    }

    package static func webSocketFrames(_ messages: [Message], allocator: ByteBufferAllocator) -> ByteBuffer {
        var frames = allocator.buffer(capacity: messages.reduce(0) { $0 + $1.content.readableBytes + 10 })
        for message in messages {
            let content = message.content
            let isText = String(validating: content.readableBytesView, as: UTF8.self) != nil
            frames.writeInteger(UInt8(0x80 | (isText ? 0x1 : 0x2)))
            let length = content.readableBytes
            if length < 126 {
                frames.writeInteger(UInt8(length))
            } else if length <= 0xFFFF {
                frames.writeInteger(UInt8(126))
                frames.writeInteger(UInt16(length))
            } else {
                frames.writeInteger(UInt8(127))
                frames.writeInteger(UInt64(length))
            }
            frames.writeImmutableBuffer(content)
        }
        return frames
    }
}
