import NIOCore

/// The compression of a record batch's records, attribute bits 0-2.
///
/// gzip is always available (zlib is linked in). snappy, lz4 and zstd use the system's `libsnappy.so.1`,
/// `liblz4.so.1` and `libzstd.so.1`, loaded on first use; where one is missing, using that codec throws
/// ``KafkaWireError/Code/unsupportedCompression`` naming the library, and ``isAvailable`` is false.
public enum KafkaCompressionCodec: Int8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case none = 0
    case gzip = 1
    case snappy = 2
    case lz4 = 3
    case zstd = 4

    /// The most bytes one batch may decompress to unless the caller says otherwise: a bound on what a small
    /// compressed batch (a decompression bomb) can make us allocate.
    /// Default: 64 MiB.
    public static let defaultMaxDecompressedBytes = 64 * 1024 * 1024

    /// The name Kafka uses in `compression.type`.
    public var name: String {
        switch self {
        case .none: "none"
        case .gzip: "gzip"
        case .snappy: "snappy"
        case .lz4: "lz4"
        case .zstd: "zstd"
        }
    }

    public var description: String { name }

    /// Whether this codec can be used on this machine: its system library, if it needs one, loads.
    public var isAvailable: Bool {
        switch self {
        case .none, .gzip: true
        case .snappy: (try? SnappyLibrary.shared.get()) != nil
        case .lz4: (try? LZ4FrameLibrary.shared.get()) != nil
        case .zstd: (try? ZstdLibrary.shared.get()) != nil
        }
    }

    /// Appends the compressed form of `input`'s readable bytes to `output`, in the framing Kafka clients use:
    /// a gzip member, xerial-framed snappy, an LZ4 frame with independent blocks, a zstd frame.
    public func compress(_ input: ByteBuffer, into output: inout ByteBuffer) throws(KafkaWireError) {
        switch self {
        case .none:
            output.writeImmutableBuffer(input)
        case .gzip:
            try GzipCompression.compress(input, into: &output)
        case .snappy:
            let library = try SnappyLibrary.shared.get()
            try input.withUnsafeReadableBytes { (bytes) throws(KafkaWireError) in
                try library.compress(bytes, into: &output)
            }
        case .lz4:
            let library = try LZ4FrameLibrary.shared.get()
            try input.withUnsafeReadableBytes { (bytes) throws(KafkaWireError) in
                try library.compress(bytes, into: &output)
            }
        case .zstd:
            let library = try ZstdLibrary.shared.get()
            try input.withUnsafeReadableBytes { (bytes) throws(KafkaWireError) in
                try library.compress(bytes, into: &output)
            }
        }
    }

    /// Decompresses `input`'s readable bytes into a new buffer.
    ///
    /// Snappy accepts both the xerial framing and one raw snappy block.
    /// - Parameter maxDecompressedBytes: more output than this throws ``KafkaWireError/Code/compressionFailed``
    ///   before it is allocated (or, for codecs that do not state their size, as soon as it is passed).
    public func decompress(
        _ input: ByteBuffer,
        maxDecompressedBytes: Int = defaultMaxDecompressedBytes
    ) throws(KafkaWireError) -> ByteBuffer {
        if self == .none { return input }
        guard input.readableBytes > 0 else {
            throw KafkaWireError(.compressionFailed, "\(name) data is empty")
        }
        // Records usually compress 2-10x; start there and grow, so small batches do not reserve the whole limit.
        var output = DecompressedOutput(
            codec: self, limit: maxDecompressedBytes,
            expectedSize: input.readableBytes.multipliedReportingOverflow(by: 4).partialValue)
        switch self {
        case .none:
            break
        case .gzip:
            try GzipCompression.decompress(input, into: &output)
        case .snappy:
            let library = try SnappyLibrary.shared.get()
            try input.withUnsafeReadableBytes { (bytes) throws(KafkaWireError) in
                try library.decompress(bytes, into: &output)
            }
        case .lz4:
            let library = try LZ4FrameLibrary.shared.get()
            try input.withUnsafeReadableBytes { (bytes) throws(KafkaWireError) in
                try library.decompress(bytes, into: &output)
            }
        case .zstd:
            let library = try ZstdLibrary.shared.get()
            try input.withUnsafeReadableBytes { (bytes) throws(KafkaWireError) in
                try library.decompress(bytes, into: &output)
            }
        }
        return output.buffer
    }
}
