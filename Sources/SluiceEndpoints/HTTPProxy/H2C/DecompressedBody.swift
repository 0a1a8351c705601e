import CompressNIO
import NIOCore

/// A response body decompressed as it streams, for `useCompression` on the h2c path (the HTTP client decompresses
/// on the other): `gzip`, or `deflate` (the zlib format, as HTTP names it). Like the HTTP client, it refuses a
/// body that inflates to more than `maxRatio` times its size.
struct DecompressedBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer

    enum Encoding: Sendable {
        case gzip
        case deflate
    }

    struct TooLarge: Error, CustomStringConvertible {
        var description: String { "the backend's compressed body inflates past the allowed ratio" }
    }

    let base: Base
    let encoding: Encoding
    let maxRatio: Int

    func makeAsyncIterator() -> Iterator {
        let algorithm: CompressionAlgorithm = encoding == .gzip ? .gzip() : .zlib()
        return Iterator(base: base.makeAsyncIterator(), decompressor: algorithm.decompressor, maxRatio: maxRatio)
    }

    struct Iterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let decompressor: any NIODecompressor
        let maxRatio: Int
        var started = false
        var compressedBytes = 0
        var inflatedBytes = 0

        mutating func next() async throws -> ByteBuffer? {
            if !started {
                try decompressor.startStream()
                started = true
            }
            while var chunk = try await base.next() {
                compressedBytes += chunk.readableBytes
                var output = ByteBuffer()
                while chunk.readableBytes > 0 {
                    var window = ByteBufferAllocator().buffer(
                        capacity: Swift.max(16_384, Swift.min(chunk.readableBytes * 4, 262_144)))
                    let before = chunk.readableBytes
                    var inputDone = false
                    do {
                        try decompressor.streamInflate(from: &chunk, to: &window)
                        // The compressed stream ended: anything after it is not decompressed.
                        inputDone = true
                    } catch let error as CompressNIOError where error == .bufferOverflow {
                    } catch let error as CompressNIOError where error == .inputBufferOverflow {
                        inputDone = true
                    }
                    inflatedBytes += window.readableBytes
                    guard inflatedBytes <= maxRatio * compressedBytes else { throw TooLarge() }
                    let progressed = chunk.readableBytes < before || window.readableBytes > 0
                    output.writeBuffer(&window)
                    if inputDone || !progressed { break }
                }
                if output.readableBytes > 0 { return output }
            }
            return nil
        }
    }
}
