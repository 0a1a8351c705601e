import NIOCore
import SluiceCore
import SluiceEndpoints
import SluiceEntrypoints
import Testing

/// What the event-loop ring streams write (RingBatchCache): for SSE the very bytes the task path writes for the
/// same messages, for WebSocket one frame per message; batches shared by the streams of a ring. The streams
/// themselves run against real brokers (the Kafka and MQTT 5 endpoint suites) and the embedded log.
@Suite("encoded batches from a ring")
struct RingBatchCacheTests {
    @Test(
        "a batch is byte for byte what the task path's formatter writes, ids, comments and multi-line data included"
    )
    func sameBytesAsTaskPath() {
        let formatter = ServerSentEventWriter(headersAsComment: true, metadataAsComment: true)
        let cache = RingBatchCache.serverSentEvents(formatter)
        let ring = InMemoryBroker().topic(named: "a", retention: InMemoryRetention())
        var messages = (0..<3).map { Message(id: "cursor-\($0)", content: ByteBuffer(string: "m\($0)\r\nnext")) }
        messages[1].headers.add(name: "h", value: "v")
        messages[2].id = nil
        var expected = ByteBuffer()
        for message in messages { formatter.message(message, into: &expected) }
        let batch = cache.encode(messages, of: ring, from: 4, allocator: ByteBufferAllocator())
        #expect(batch.bytes == expected)
        #expect(batch.end == 7)
        #expect(batch.lastID == nil)
        #expect(String(buffer: batch.bytes).hasPrefix("id: cursor-0\nevent: message\ndata: m0\ndata: next\n"))
    }

    @Test("frames: one unmasked final frame per message, text for UTF-8 and binary otherwise, each length form")
    func frameBytes() {
        let allocator = ByteBufferAllocator()
        func message(_ bytes: [UInt8]) -> Message { Message(content: ByteBuffer(bytes: bytes)) }
        let short = RingBatchCache.webSocketFrames(
            [message(Array("hi".utf8)), message([0xC3, 0x28]), message([])], allocator: allocator)
        #expect(Array(short.readableBytesView) == [0x81, 0x02, 0x68, 0x69, 0x82, 0x02, 0xC3, 0x28, 0x81, 0x00])
        for (length, header) in [
            (125, [0x81, 125]), (126, [0x81, 126, 0x00, 126]), (65_535, [0x81, 126, 0xFF, 0xFF]),
            (65_536, [0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]),
        ] as [(Int, [UInt8])] {
            let frames = RingBatchCache.webSocketFrames(
                [message(Array(repeating: UInt8(ascii: "a"), count: length))], allocator: allocator)
            #expect(Array(frames.readableBytesView.prefix(header.count)) == header, "\(length)")
            #expect(frames.readableBytes == header.count + length, "\(length)")
        }
    }

    @Test("the cache gives the longest batch of the same ring that starts at the place asked, and nothing else")
    func cacheLookup() {
        let broker = InMemoryBroker()
        let ring = broker.topic(named: "a", retention: InMemoryRetention())
        let other = broker.topic(named: "b", retention: InMemoryRetention())
        let cache = RingBatchCache.webSocketFrames()
        let messages = (0..<3).map { Message(id: "id-\($0)", content: ByteBuffer(string: "m\($0)")) }
        _ = cache.encode(Array(messages.prefix(2)), of: ring, from: 10, allocator: ByteBufferAllocator())
        _ = cache.encode(messages, of: ring, from: 10, allocator: ByteBufferAllocator())
        let hit = cache.batch(of: ring, from: 10)
        #expect(hit?.end == 13)
        #expect(hit?.lastID == "id-2")
        #expect(hit?.bytes.readableBytes == 3 * 4)
        #expect(cache.batch(of: ring, from: 11) == nil)
        #expect(cache.batch(of: other, from: 10) == nil)
    }
}
