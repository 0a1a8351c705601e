import KafkaWire
import NIOCore
import Testing

/// A Produce request written as segments (record batches left in their own buffers) is byte for byte the frame
/// `writeFrame` writes, at every version.
@Suite struct ProduceRequestSegmentsTests {
    static let request = KafkaProduceRequest(
        transactionalId: "tx", acks: -1, timeoutMs: 30000,
        topicData: [
            .init(
                name: "orders",
                partitionData: [
                    .init(index: 0, records: ByteBuffer(repeating: 0xAB, count: 300)),
                    .init(index: 1, records: nil),
                    .init(index: 2, records: ByteBuffer()),
                ]),
            .init(name: "payments", partitionData: [.init(index: 7, records: ByteBuffer(bytes: [1, 2, 3]))]),
        ]
    )

    @Test(arguments: KafkaProduceRequest.supportedVersions)
    func segmentsAreTheFrame(version: Int16) throws {
        var frame = ByteBuffer()
        var request = Self.request
        if version < 3 { request.transactionalId = nil }
        try request.writeFrame(into: &frame, version: version, correlationID: 42, clientID: "sluice")
        let segments = try request.writeFrameSegments(version: version, correlationID: 42, clientID: "sluice")
        var joined = ByteBuffer()
        for var segment in segments { joined.writeBuffer(&segment) }
        #expect(joined == frame)
        // The two non-empty batches are segments of their own, not copies.
        #expect(segments.contains { $0 == ByteBuffer(repeating: 0xAB, count: 300) })
        #expect(segments.contains { $0 == ByteBuffer(bytes: [1, 2, 3]) })
    }

    @Test func anUnsupportedVersionIsRefused() {
        #expect(throws: KafkaWireError.self) {
            _ = try Self.request.writeFrameSegments(version: 12, correlationID: 1, clientID: nil)
        }
    }
}
