import NIOCore
import SluiceCore
import SluiceEndpoints
import Synchronization

/// The most recent batches of a ring's messages as Server-Sent Events, already encoded, shared by the event-loop
/// SSE streams of one API (one formatter, so one encoding).
///
/// As with ``WebSocketBatchCache``: an append wakes every stream of the ring, streams that keep up read from the
/// same place, the first encodes what the ring has from there and the others write the very same buffer. The
/// events are exactly what the task path writes for the same messages: their ids are the messages' own (a Kafka
/// tail's cursors are in the ring's messages, the same for every reader), so a batch does not depend on the
/// stream that encoded it.
package final class SSERingBatchCache: Sendable {
    /// Events for the ring's messages from some offset up to `end`; `lastID` is the last message's id.
    package struct Batch: Sendable {
        package var events: ByteBuffer
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
    /// Bytes of events kept; the newest batch is kept whatever its size. Default: 16 MiB.
    static let capacityBytes = 16 << 20

    private let entries = Mutex<[Entry]>([])
    package let formatter: ServerSentEventWriter

    package init(formatter: ServerSentEventWriter) {
        self.formatter = formatter
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
        var events = allocator.buffer(capacity: messages.reduce(0) { $0 + $1.content.readableBytes + 48 })
        for message in messages { formatter.message(message, into: &events) }
        let batch = Batch(events: events, end: start + Int64(messages.count), lastID: messages.last?.id)
        entries.withLock { entries in
            entries.removeAll { $0.ring == nil || ($0.start == start && $0.ring === ring && $0.batch.end <= batch.end) }
            entries.append(Entry(ring: ring, start: start, batch: batch))
            if entries.count > Self.capacity { entries.removeFirst(entries.count - Self.capacity) }
            var bytes = entries.reduce(0) { $0 + $1.batch.events.readableBytes }
            while bytes > Self.capacityBytes, entries.count > 1 {
                bytes -= entries.removeFirst().batch.events.readableBytes
            }
        }
        return batch
    }
}
