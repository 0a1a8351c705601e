import CompressNIO
import NIOCore

/// gzip through CompressNIO's zlib, which is linked in, so gzip is always available.
enum GzipCompression {
    /// Appends one gzip member holding `input` to `output`, at zlib's default level as the Java producer uses.
    static func compress(_ input: ByteBuffer, into output: inout ByteBuffer) throws(KafkaWireError) {
        // zlib is handed the readable bytes' address, which an empty buffer of capacity 0 might not have.
        var input = input.readableBytes > 0 ? input : ByteBuffer(bytes: [0]).getSlice(at: 1, length: 0)!
        do {
            let compressor = try ZlibCompressor(algorithm: .gzip)
            output.reserveCapacity(minimumWritableBytes: compressor.maxSize(from: input))
            while true {
                do {
                    try compressor.deflate(from: &input, to: &output, flush: .finish)
                    return
                } catch let error as CompressNIOError where error == .bufferOverflow {
                    // deflateBound should make this unreachable; keep going with more room if it is not.
                    output.reserveCapacity(minimumWritableBytes: max(output.capacity, 4096))
                }
            }
        } catch {
            throw KafkaWireError(.compressionFailed, "gzip compression failed: \(error)")
        }
    }

    /// Decompresses `input` into `output`. Several gzip members in a row are read as one stream, as Java's
    /// GZIPInputStream does; bytes after the last member that do not start another member are ignored, also as it
    /// does.
    static func decompress(_ input: ByteBuffer, into output: inout DecompressedOutput) throws(KafkaWireError) {
        var input = input
        let decompressor: ZlibDecompressor
        do {
            decompressor = try ZlibDecompressor(algorithm: .gzip)
        } catch {
            throw KafkaWireError(.compressionFailed, "gzip decompression could not start: \(error)")
        }
        while true {
            try inflate(decompressor, &input, into: &output)
            // inflate returned without error: zlib reached the end of a member, or used all the input with room
            // to spare, which is either the end or a cut-short member.
            if input.readableBytes > 0 {
                guard input.readableBytes >= 2, input.getInteger(at: input.readerIndex, as: UInt16.self) == 0x1F8B
                else { return }
                do {
                    try decompressor.reset()
                } catch {
                    throw KafkaWireError(.compressionFailed, "gzip decompression could not restart: \(error)")
                }
                continue
            }
            // Once more with no input: zlib answers "stream end" again at the end of a member, and asks for more
            // input (inputBufferOverflow) in the middle of one.
            try inflate(decompressor, &input, into: &output)
            return
        }
    }

    private static func inflate(
        _ decompressor: ZlibDecompressor,
        _ input: inout ByteBuffer,
        into output: inout DecompressedOutput
    ) throws(KafkaWireError) {
        while true {
            try output.reserveSpace()
            do {
                try decompressor.inflate(from: &input, to: &output.buffer)
                try output.checkLimit()
                return
            } catch let error as CompressNIOError where error == .bufferOverflow {
                // Out of room; what was written so far is kept. Grow (or hit the limit) and go on.
                continue
            } catch let error as CompressNIOError where error == .inputBufferOverflow {
                throw KafkaWireError(.compressionFailed, "gzip data ends in the middle of a member")
            } catch let error as CompressNIOError where error == .corruptData {
                throw KafkaWireError(.compressionFailed, "gzip data is corrupt")
            } catch let error as KafkaWireError {
                throw error
            } catch {
                throw KafkaWireError(.compressionFailed, "gzip decompression failed: \(error)")
            }
        }
    }
}
