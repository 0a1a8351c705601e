import NIOCore

/// The growing output of a decompressor, refused past a limit so that a few compressed bytes that expand to
/// gigabytes (a decompression bomb) fail instead of exhausting memory.
///
/// The buffer never grows past `limit + 1` bytes of content: one byte more than allowed is enough to know the limit
/// was passed.
struct DecompressedOutput {
    let codec: KafkaCompressionCodec
    let limit: Int
    var buffer: ByteBuffer

    init(codec: KafkaCompressionCodec, limit: Int, expectedSize: Int) {
        self.codec = codec
        self.limit = max(limit, 0)
        self.buffer = ByteBuffer()
        buffer.reserveCapacity(min(max(expectedSize, 256), hardCapacity))
    }

    /// The most content the buffer may ever hold.
    private var hardCapacity: Int { limit == .max ? .max : limit + 1 }

    /// Makes sure there is at least one writable byte, growing geometrically up to the hard capacity.
    mutating func reserveSpace() throws(KafkaWireError) {
        try checkLimit()
        guard buffer.writableBytes == 0 else { return }
        guard buffer.writerIndex < hardCapacity else { throw limitExceeded }
        buffer.reserveCapacity(min(max(buffer.capacity * 2, 4096), hardCapacity))
    }

    /// Throws once the content is larger than the limit.
    func checkLimit() throws(KafkaWireError) {
        if buffer.readableBytes > limit { throw limitExceeded }
    }

    /// Hands `body` the writable space (at least one byte, never past the hard capacity) and keeps the bytes it
    /// reports written.
    mutating func write(
        _ body: (UnsafeMutableRawBufferPointer) throws(KafkaWireError) -> Int
    ) throws(KafkaWireError) {
        try reserveSpace()
        let usable = min(buffer.writableBytes, hardCapacity - buffer.writerIndex)
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) {
            (space: UnsafeMutableRawBufferPointer) throws(KafkaWireError) -> Int in
            let written = try body(UnsafeMutableRawBufferPointer(rebasing: space.prefix(usable)))
            guard written >= 0, written <= usable else {
                throw KafkaWireError(
                    .compressionFailed, "\(codec.name) reported \(written) bytes written into \(usable)")
            }
            return written
        }
        try checkLimit()
    }

    /// Reserves room for exactly `count` more bytes, for codecs that know the decompressed size up front.
    mutating func reserveExactly(_ count: Int) throws(KafkaWireError) {
        guard count >= 0, count <= limit - buffer.readableBytes else { throw limitExceeded }
        buffer.reserveCapacity(minimumWritableBytes: count)
    }

    private var limitExceeded: KafkaWireError {
        KafkaWireError(
            .compressionFailed,
            "\(codec.name) data decompresses to more than the limit of \(limit) bytes (maxDecompressedBytes)"
        )
    }
}
