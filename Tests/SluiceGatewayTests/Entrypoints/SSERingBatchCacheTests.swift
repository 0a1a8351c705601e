import NIOCore
import SluiceCore
import SluiceEndpoints
import SluiceEntrypoints
import Testing

/// The events an SSE ring stream writes (SSERingBatchCache): the very bytes the task path writes for the same
/// messages, shared by the streams of a ring. The streams themselves run against real brokers (the Kafka and
/// MQTT 5 endpoint suites).
@Suite("sse events from a ring")
struct SSERingBatchCacheTests {
    @Test(
        "a batch is byte for byte what the task path's formatter writes, ids, comments and multi-line data included"
    )
    func sameBytesAsTaskPath() {
        let formatter = ServerSentEventWriter(headersAsComment: true, metadataAsComment: true)
        let cache = SSERingBatchCache(formatter: formatter)
        let ring = InMemoryBroker().topic(named: "a", retention: InMemoryRetention())
        var messages = (0..<3).map { Message(id: "cursor-\($0)", content: ByteBuffer(string: "m\($0)\r\nnext")) }
        messages[1].headers.add(name: "h", value: "v")
        messages[2].id = nil
        var expected = ByteBuffer()
        for message in messages { formatter.message(message, into: &expected) }
        let batch = cache.encode(messages, of: ring, from: 4, allocator: ByteBufferAllocator())
        #expect(batch.events == expected)
        #expect(batch.end == 7)
        #expect(batch.lastID == nil)
        #expect(String(buffer: batch.events).hasPrefix("id: cursor-0\nevent: message\ndata: m0\ndata: next\n"))
    }

    @Test("the cache gives the longest batch of the same ring that starts at the place asked, and nothing else")
    func cacheLookup() {
        let broker = InMemoryBroker()
        let ring = broker.topic(named: "a", retention: InMemoryRetention())
        let other = broker.topic(named: "b", retention: InMemoryRetention())
        let cache = SSERingBatchCache(
            formatter: ServerSentEventWriter(headersAsComment: false, metadataAsComment: false))
        let messages = (0..<3).map { Message(id: "id-\($0)", content: ByteBuffer(string: "m\($0)")) }
        _ = cache.encode(Array(messages.prefix(2)), of: ring, from: 10, allocator: ByteBufferAllocator())
        _ = cache.encode(messages, of: ring, from: 10, allocator: ByteBufferAllocator())
        let hit = cache.batch(of: ring, from: 10)
        #expect(hit?.end == 13)
        #expect(hit?.lastID == "id-2")
        #expect(cache.batch(of: ring, from: 11) == nil)
        #expect(cache.batch(of: other, from: 10) == nil)
    }
}
