import NIOCore
import SluiceCore
import SluiceEndpoints

/// Why an event-loop ring stream stopped serving its connection (a failure of its source fails it instead).
package enum RingStreamEnd: Sendable {
    /// The connection closes (the client left, the stream was stopped, the task was cancelled), or the source was
    /// closed.
    case closed
    /// The source continues elsewhere: serve it with `next(maxCount:until:)`.
    case leftRing
}

/// The pull loop shared by the event-loop streams that serve a ``RingBackedSource`` (``SSERingStream``,
/// ``WebSocketRingStream``): while the socket can take more it writes what the ring has from the source's place,
/// else it waits for the socket to drain; when the ring has nothing new it watches it for the next append. Batches
/// come from a ``RingBatchCache``, so streams at the same place write one shared buffer. So a slow client slows
/// only itself and costs the gateway no buffer; when it falls behind the ring its source decides (see
/// ``RingPosition``).
struct RingPull {
    static let batchSize = 256
    /// Content bytes a batch stops growing at: a write no larger than that, and a cache that does not hold much
    /// more than the ring. Default: 1 MiB.
    static let batchBytes = 1 << 20

    let source: any RingBackedSource
    let ring: InMemoryTopic
    let cache: RingBatchCache
    let watchID: UInt64
    /// Told how many messages each batch written carries.
    var observer: (any MessageObserver)?

    init(source: any RingBackedSource, cache: RingBatchCache) {
        self.source = source
        self.ring = source.ring
        self.cache = cache
        self.watchID = source.ring.makeWaitID()
    }

    struct Outcome {
        /// Why the stream ends, once what was read is written; nil while it waits for the socket or the ring.
        var ending: Result<RingStreamEnd, GatewayError>?
        /// Whether anything was written (and flushed).
        var wrote: Bool
    }

    /// Writes what the ring has while `channel` is writable: `write` takes each batch (the last one with a promise
    /// when the source wants to know what was written), then `flush`. When the ring has nothing new, `wake` is
    /// called on its next append.
    func pump(
        channel: any Channel, wake: @escaping @Sendable () -> Void,
        write: (ByteBuffer, EventLoopPromise<Void>?) -> Void, flush: () -> Void
    ) -> Outcome {
        // The last batch is held back so that it alone carries a promise when the source wants to know.
        var unwritten: RingBatchCache.Batch?
        var ending: Result<RingStreamEnd, GatewayError>?
        reading: while channel.isWritable {
            switch source.ringPosition() {
            case .leaveRing:
                ending = .success(.leftRing)
                break reading
            case .ended(let failure):
                ending = failure.map { .failure($0) } ?? .success(.closed)
                break reading
            case .at(let offset):
                let batch: RingBatchCache.Batch
                if let shared = cache.batch(of: ring, from: offset) {
                    batch = shared
                } else {
                    var (messages, next) = ring.read(from: offset, maxCount: Self.batchSize)
                    if messages.isEmpty {
                        // Nothing new: be told of the next append (unless one slipped in since the read), then
                        // look again, as the source may have ended in between.
                        if !ring.watch(from: offset, id: watchID, wake) { continue reading }
                        if case .at = source.ringPosition() { break reading }
                        ring.unwatch(id: watchID)
                        continue reading
                    }
                    // The ring dropped the place between the look and the read: ask the source again.
                    if next - Int64(messages.count) != offset { continue reading }
                    // At most about `batchBytes` per batch (and at least one message).
                    var bytes = 0
                    if let cut = messages.firstIndex(where: {
                        bytes += $0.content.readableBytes
                        return bytes > Self.batchBytes
                    }), cut > 0 {
                        next -= Int64(messages.count - cut)
                        messages.removeSubrange(cut...)
                    }
                    batch = cache.encode(messages, of: ring, from: offset, allocator: channel.allocator)
                }
                if let previous = unwritten { write(previous.bytes, nil) }
                if let observer, batch.end > offset { observer.deliveredShared(count: Int(batch.end - offset)) }
                unwritten = batch
                source.handedOut(upTo: batch.end, lastID: batch.lastID)
            }
        }
        guard let last = unwritten else { return Outcome(ending: ending, wrote: false) }
        if source.reportsWrites {
            let promise = channel.eventLoop.makePromise(of: Void.self)
            write(last.bytes, promise)
            let source = source
            let lastID = last.lastID
            promise.futureResult.whenSuccess { source.written(through: lastID) }
        } else {
            write(last.bytes, nil)
        }
        flush()
        return Outcome(ending: ending, wrote: true)
    }

    /// Stops watching the ring.
    func stop() {
        ring.unwatch(id: watchID)
    }
}
