import NIOCore

/// Snappy through the C API of the system's `libsnappy.so.1`, loaded on first use, with the "xerial" framing that
/// Kafka's Java client and librdkafka use for snappy batches.
///
/// The xerial framing is an 8-byte magic (`0x82 "SNAPPY" 0x00`), two big-endian int32 versions (1 and 1), then
/// blocks of a big-endian int32 length followed by that many bytes of one raw snappy block.
struct SnappyLibrary: Sendable {
    /// `snappy_status snappy_compress(const char*, size_t, char*, size_t*)`; the status is a C enum, 0 is OK.
    typealias Compress =
        @convention(c) (UnsafeRawPointer?, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?)
        -> Int32
    typealias Uncompress =
        @convention(c) (
            UnsafeRawPointer?, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?
        ) -> Int32
    typealias MaxCompressedLength = @convention(c) (Int) -> Int
    typealias UncompressedLength = @convention(c) (UnsafeRawPointer?, Int, UnsafeMutablePointer<Int>?) -> Int32

    static let xerialMagic: [UInt8] = [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00]
    /// Magic, version and minimum compatible version.
    static let xerialHeaderSize = 16
    /// The Java client's block size (SnappyOutputStream's default).
    static let xerialBlockSize = 32 * 1024

    /// Loaded once, on first use; a failure is kept too.
    static let shared = Result { () throws(KafkaWireError) -> SnappyLibrary in
        try SnappyLibrary(
            SharedLibrary.open(codec: "snappy", fileNames: SharedLibrary.candidateFileNames(name: "snappy", major: 1)))
    }

    let compressBlock: Compress
    let uncompressBlock: Uncompress
    let maxCompressedLength: MaxCompressedLength
    let uncompressedLength: UncompressedLength

    private init(_ library: SharedLibrary) throws(KafkaWireError) {
        compressBlock = try library.function("snappy_compress", as: Compress.self)
        uncompressBlock = try library.function("snappy_uncompress", as: Uncompress.self)
        maxCompressedLength = try library.function("snappy_max_compressed_length", as: MaxCompressedLength.self)
        uncompressedLength = try library.function("snappy_uncompressed_length", as: UncompressedLength.self)
    }

    /// Appends `input` to `output` in the xerial framing, in blocks of 32 KiB as the Java client writes them.
    func compress(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer) throws(KafkaWireError) {
        output.writeBytes(Self.xerialMagic)
        output.writeInteger(Int32(1), endianness: .big)
        output.writeInteger(Int32(1), endianness: .big)
        var start = 0
        while start < input.count {
            let block = UnsafeRawBufferPointer(rebasing: input[start..<min(start + Self.xerialBlockSize, input.count)])
            let lengthIndex = output.writerIndex
            output.writeInteger(Int32(0), endianness: .big)
            let written = try output.writeWithUnsafeMutableBytes(
                minimumWritableBytes: maxCompressedLength(block.count)
            ) { (space: UnsafeMutableRawBufferPointer) throws(KafkaWireError) -> Int in
                var length = space.count
                guard compressBlock(block.baseAddress, block.count, space.baseAddress, &length) == 0 else {
                    throw KafkaWireError(.compressionFailed, "snappy compression failed")
                }
                return length
            }
            output.setInteger(Int32(written), at: lengthIndex, endianness: .big)
            start += block.count
        }
    }

    /// Decompresses xerial-framed data, or one raw snappy block when the data does not start with the xerial magic
    /// (which is how the Java client tells them apart too).
    func decompress(_ input: UnsafeRawBufferPointer, into output: inout DecompressedOutput) throws(KafkaWireError) {
        guard Self.startsWithXerialMagic(input, at: 0) else {
            try appendRawBlock(input, into: &output)
            return
        }
        var position = 0
        while position < input.count {
            // A xerial header where a block length is expected starts another stream concatenated to this one
            // (its first byte, 0x82, would make a negative length): skip it as the Java client does.
            if Self.startsWithXerialMagic(input, at: position) {
                guard input.count - position >= Self.xerialHeaderSize else {
                    throw KafkaWireError(.compressionFailed, "snappy xerial header is cut short")
                }
                position += Self.xerialHeaderSize
                continue
            }
            guard input.count - position >= 4 else {
                throw KafkaWireError(.compressionFailed, "snappy xerial block length is cut short")
            }
            let length = Int(Int32(bigEndian: input.loadUnaligned(fromByteOffset: position, as: Int32.self)))
            position += 4
            guard length >= 0, length <= input.count - position else {
                throw KafkaWireError(
                    .compressionFailed,
                    "snappy xerial block of \(length) bytes with \(input.count - position) bytes left")
            }
            try appendRawBlock(UnsafeRawBufferPointer(rebasing: input[position..<position + length]), into: &output)
            position += length
        }
    }

    private static func startsWithXerialMagic(_ input: UnsafeRawBufferPointer, at position: Int) -> Bool {
        guard input.count - position >= xerialMagic.count else { return false }
        for index in 0..<xerialMagic.count where input[position + index] != xerialMagic[index] {
            return false
        }
        return true
    }

    /// Appends one raw snappy block, whose decompressed size it states up front: the limit is checked before any
    /// allocation.
    private func appendRawBlock(
        _ block: UnsafeRawBufferPointer,
        into output: inout DecompressedOutput
    ) throws(KafkaWireError) {
        guard block.count > 0 else { throw KafkaWireError(.compressionFailed, "snappy block is empty") }
        var expected = 0
        guard uncompressedLength(block.baseAddress, block.count, &expected) == 0 else {
            throw KafkaWireError(.compressionFailed, "snappy block has no valid length")
        }
        try output.reserveExactly(expected)
        // Room for at least one byte so that even an empty block gets a real pointer to write to.
        try output.buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: max(expected, 1)) {
            (space: UnsafeMutableRawBufferPointer) throws(KafkaWireError) -> Int in
            var length = expected
            guard uncompressBlock(block.baseAddress, block.count, space.baseAddress, &length) == 0,
                length == expected
            else {
                throw KafkaWireError(.compressionFailed, "snappy block is corrupt")
            }
            return length
        }
    }
}
