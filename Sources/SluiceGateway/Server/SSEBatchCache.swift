import NIOCore
import SluiceCore
import SluiceEntrypoints
import Synchronization

/// The most recent batches of SSE events, already encoded, shared by the streams of one API.
///
/// An append wakes every subscriber of the topic, and subscribers that keep up then read the same range of
/// messages: the first encodes it, the others write the very same buffer. A thousand subscribers cost one
/// encoding per message instead of a thousand.
final class SSEBatchCache: Sendable {
    private struct Entry {
        var start: Int64
        var end: Int64
        var frames: ByteBuffer
    }

    /// Batches kept. Default: 16.
    static let capacity = 16

    private let entries = Mutex<[Entry]>([])
    let formatter: ServerSentEventWriter

    init(formatter: ServerSentEventWriter) {
        self.formatter = formatter
    }

    /// The events for `messages`, which hold the offsets `start ..< start + messages.count`.
    func encoded(start: Int64, messages: [Message], allocator: ByteBufferAllocator) -> ByteBuffer {
        let end = start + Int64(messages.count)
        if let hit = entries.withLock({ $0.last(where: { $0.start == start && $0.end == end })?.frames }) {
            return hit
        }
        var frames = allocator.buffer(capacity: messages.reduce(0) { $0 + $1.content.readableBytes + 48 })
        for message in messages { formatter.message(message, into: &frames) }
        entries.withLock { entries in
            entries.append(Entry(start: start, end: end, frames: frames))
            if entries.count > Self.capacity { entries.removeFirst() }
        }
        return frames
    }
}
