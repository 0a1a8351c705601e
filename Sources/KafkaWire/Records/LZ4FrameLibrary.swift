import NIOCore

/// LZ4 in the frame format (not raw blocks), which is what Kafka's magic v2 batches carry, through the system's
/// `liblz4.so.1`, loaded on first use.
struct LZ4FrameLibrary: Sendable {
    typealias CompressFrameBound = @convention(c) (Int, UnsafeRawPointer?) -> Int
    typealias CompressFrame =
        @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, Int, UnsafeRawPointer?)
        -> Int
    typealias IsError = @convention(c) (Int) -> UInt32
    typealias GetErrorName = @convention(c) (Int) -> UnsafePointer<CChar>?
    typealias CreateDecompressionContext = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, UInt32) -> Int
    typealias FreeDecompressionContext = @convention(c) (OpaquePointer?) -> Int
    /// `LZ4F_decompress(dctx, dst, &dstSize, src, &srcSize, options)`.
    typealias Decompress =
        @convention(c) (
            OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?, UnsafeRawPointer?,
            UnsafeMutablePointer<Int>?, UnsafeRawPointer?
        ) -> Int

    /// `LZ4F_VERSION`, which the decompression context checks against the library's.
    static let frameAPIVersion: UInt32 = 100

    /// Loaded once, on first use; a failure is kept too.
    static let shared = Result { () throws(KafkaWireError) -> LZ4FrameLibrary in
        try LZ4FrameLibrary(
            SharedLibrary.open(codec: "lz4", fileNames: SharedLibrary.candidateFileNames(name: "lz4", major: 1)))
    }

    let compressFrameBound: CompressFrameBound
    let compressFrame: CompressFrame
    let isError: IsError
    let getErrorName: GetErrorName
    let createDecompressionContext: CreateDecompressionContext
    let freeDecompressionContext: FreeDecompressionContext
    let decompressFrame: Decompress

    private init(_ library: SharedLibrary) throws(KafkaWireError) {
        compressFrameBound = try library.function("LZ4F_compressFrameBound", as: CompressFrameBound.self)
        compressFrame = try library.function("LZ4F_compressFrame", as: CompressFrame.self)
        isError = try library.function("LZ4F_isError", as: IsError.self)
        getErrorName = try library.function("LZ4F_getErrorName", as: GetErrorName.self)
        createDecompressionContext = try library.function(
            "LZ4F_createDecompressionContext", as: CreateDecompressionContext.self)
        freeDecompressionContext = try library.function(
            "LZ4F_freeDecompressionContext", as: FreeDecompressionContext.self)
        decompressFrame = try library.function("LZ4F_decompress", as: Decompress.self)
    }

    private func failure(_ code: Int, _ doing: String) -> KafkaWireError {
        let name = getErrorName(code).map { String(cString: $0) } ?? "error \(code)"
        return KafkaWireError(.compressionFailed, "lz4 \(doing) failed: \(name)")
    }

    /// Appends one LZ4 frame holding `input` to `output`.
    ///
    /// Blocks are 64 KiB and independent, as the Java producer writes them: the Java consumer decodes every block
    /// on its own, so the library's default of linked blocks would break it for batches over 64 KiB.
    func compress(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer) throws(KafkaWireError) {
        // LZ4F_preferences_t, zeroed (defaults, no checksums, no content size) but for frameInfo.blockSizeID at
        // byte 0 (4 = LZ4F_max64KB) and frameInfo.blockMode at byte 4 (1 = LZ4F_blockIndependent). The struct is
        // 56 bytes in lz4 1.8 to 1.10; 64 leaves room.
        let preferences = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
        defer { preferences.deallocate() }
        preferences.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
        preferences.storeBytes(of: 4, toByteOffset: 0, as: UInt32.self)
        preferences.storeBytes(of: 1, toByteOffset: 4, as: UInt32.self)

        let bound = compressFrameBound(input.count, preferences)
        guard isError(bound) == 0 else { throw failure(bound, "compression") }
        try output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) {
            (space: UnsafeMutableRawBufferPointer) throws(KafkaWireError) -> Int in
            let written = compressFrame(space.baseAddress, space.count, input.baseAddress, input.count, preferences)
            guard isError(written) == 0 else { throw failure(written, "compression") }
            return written
        }
    }

    /// Decompresses every frame in `input` into `output`.
    func decompress(_ input: UnsafeRawBufferPointer, into output: inout DecompressedOutput) throws(KafkaWireError) {
        guard let source = input.baseAddress, input.count > 0 else {
            throw KafkaWireError(.compressionFailed, "lz4 data is empty")
        }
        var context: OpaquePointer?
        let created = createDecompressionContext(&context, Self.frameAPIVersion)
        guard isError(created) == 0, let context else { throw failure(created, "decompression") }
        defer { _ = freeDecompressionContext(context) }

        var position = 0
        while true {
            var hint = 0
            var consumed = 0
            var produced = 0
            var filled = false
            try output.write { (space: UnsafeMutableRawBufferPointer) throws(KafkaWireError) -> Int in
                var spaceSize = space.count
                var sourceSize = input.count - position
                hint = decompressFrame(context, space.baseAddress, &spaceSize, source + position, &sourceSize, nil)
                guard isError(hint) == 0 else { throw failure(hint, "decompression") }
                consumed = sourceSize
                produced = spaceSize
                filled = spaceSize == space.count
                return spaceSize
            }
            position += consumed
            // 0: a frame is complete. More input after it is another frame; the context is ready for it.
            if hint == 0 && position == input.count { return }
            if position == input.count && !filled {
                throw KafkaWireError(.compressionFailed, "lz4 data ends in the middle of a frame")
            }
            if consumed == 0 && produced == 0 && !filled {
                throw KafkaWireError(.compressionFailed, "lz4 decompression made no progress")
            }
        }
    }
}
