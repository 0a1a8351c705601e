import NIOCore

/// Zstandard through the system's `libzstd.so.1`, loaded on first use.
///
/// Decompression uses the streaming API because the frames Kafka producers write need not carry their content size.
struct ZstdLibrary: Sendable {
    // size_t is Int here: same size and calling convention, and Swift's buffer sizes are Int.
    typealias CompressBound = @convention(c) (Int) -> Int
    typealias Compress = @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, Int, Int32) -> Int
    typealias IsError = @convention(c) (Int) -> UInt32
    typealias GetErrorName = @convention(c) (Int) -> UnsafePointer<CChar>?
    typealias CreateDStream = @convention(c) () -> OpaquePointer?
    typealias FreeDStream = @convention(c) (OpaquePointer?) -> Int
    typealias InitDStream = @convention(c) (OpaquePointer?) -> Int
    /// `ZSTD_decompressStream(ZSTD_DStream*, ZSTD_outBuffer*, ZSTD_inBuffer*)`.
    typealias DecompressStream =
        @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Int

    /// The level Kafka's producer uses by default (`compression.zstd.level`), which is also zstd's own default.
    static let compressionLevel: Int32 = 3

    /// Loaded once, on first use, by whichever thread gets there first (a static is initialised exactly once);
    /// a failure is kept too, so a missing library costs one `dlopen` attempt per process.
    static let shared = Result { () throws(KafkaWireError) -> ZstdLibrary in
        try ZstdLibrary(
            SharedLibrary.open(codec: "zstd", fileNames: SharedLibrary.candidateFileNames(name: "zstd", major: 1)))
    }

    let compressBound: CompressBound
    let compress: Compress
    let isError: IsError
    let getErrorName: GetErrorName
    let createDStream: CreateDStream
    let freeDStream: FreeDStream
    let initDStream: InitDStream
    let decompressStream: DecompressStream

    private init(_ library: SharedLibrary) throws(KafkaWireError) {
        compressBound = try library.function("ZSTD_compressBound", as: CompressBound.self)
        compress = try library.function("ZSTD_compress", as: Compress.self)
        isError = try library.function("ZSTD_isError", as: IsError.self)
        getErrorName = try library.function("ZSTD_getErrorName", as: GetErrorName.self)
        createDStream = try library.function("ZSTD_createDStream", as: CreateDStream.self)
        freeDStream = try library.function("ZSTD_freeDStream", as: FreeDStream.self)
        initDStream = try library.function("ZSTD_initDStream", as: InitDStream.self)
        decompressStream = try library.function("ZSTD_decompressStream", as: DecompressStream.self)
    }

    private func failure(_ code: Int, _ doing: String) -> KafkaWireError {
        let name = getErrorName(code).map { String(cString: $0) } ?? "error \(code)"
        return KafkaWireError(.compressionFailed, "zstd \(doing) failed: \(name)")
    }

    /// Appends one zstd frame holding `input` to `output`.
    func compress(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer) throws(KafkaWireError) {
        let bound = compressBound(input.count)
        guard isError(bound) == 0 else { throw failure(bound, "compression") }
        try output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) {
            (space: UnsafeMutableRawBufferPointer) throws(KafkaWireError) -> Int in
            let written = compress(
                space.baseAddress, space.count, input.baseAddress, input.count, Self.compressionLevel)
            guard isError(written) == 0 else { throw failure(written, "compression") }
            return written
        }
    }

    /// Decompresses every frame in `input` into `output`.
    func decompress(_ input: UnsafeRawBufferPointer, into output: inout DecompressedOutput) throws(KafkaWireError) {
        guard let stream = createDStream() else {
            throw KafkaWireError(.compressionFailed, "zstd could not allocate a decompression stream")
        }
        defer { _ = freeDStream(stream) }
        let initialised = initDStream(stream)
        guard isError(initialised) == 0 else { throw failure(initialised, "decompression") }

        // ZSTD_inBuffer and ZSTD_outBuffer are both { pointer, size_t size, size_t pos }: three words each, laid out
        // here by hand so that the layout is C's by construction. Words 0-2 are the input, 3-5 the output.
        let words = UnsafeMutablePointer<Int>.allocate(capacity: 6)
        defer { words.deallocate() }
        words.initialize(repeating: 0, count: 6)
        words[0] = Int(bitPattern: input.baseAddress)
        words[1] = input.count

        while true {
            var hint = 0
            var filled = false
            var produced = 0
            let consumedBefore = words[2]
            try output.write { (space: UnsafeMutableRawBufferPointer) throws(KafkaWireError) -> Int in
                words[3] = Int(bitPattern: space.baseAddress)
                words[4] = space.count
                words[5] = 0
                hint = decompressStream(stream, UnsafeMutableRawPointer(words + 3), UnsafeMutableRawPointer(words))
                guard isError(hint) == 0 else { throw failure(hint, "decompression") }
                filled = words[5] == space.count
                produced = words[5]
                return produced
            }
            let inputConsumed = words[2] == words[1]
            // 0: a frame is complete and flushed. More input after it is another frame, which the stream starts
            // on by itself.
            if hint == 0 && inputConsumed { return }
            // Room left over, no input left, and the frame not complete: the frame was cut short.
            if inputConsumed && !filled {
                throw KafkaWireError(.compressionFailed, "zstd data ends in the middle of a frame")
            }
            // zstd always moves when it has both input and room; a library that does not must not spin us forever.
            if produced == 0 && words[2] == consumedBefore && !filled {
                throw KafkaWireError(.compressionFailed, "zstd decompression made no progress")
            }
        }
    }
}
