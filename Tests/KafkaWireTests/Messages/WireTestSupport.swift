import KafkaWire
import NIOCore
import Testing

/// A small deterministic generator (SplitMix64), so a failing fuzz iteration can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension ByteBuffer {
    /// The readable bytes in hex, for failure messages.
    var hexDump: String {
        readableBytesView.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }
}

/// FNV-1a over the readable bytes (the hash `scripts/generate-kafka-message-samples.py` records).
func fnv1a(_ buffer: ByteBuffer) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in buffer.readableBytesView {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01B3
    }
    return hash
}

/// Runs `body`, which must throw a `KafkaWireError`, and returns that error (recording an issue if it did not).
@discardableResult
func expectWireError(
    _ comment: Comment? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws(KafkaWireError) -> Void
) -> KafkaWireError? {
    do {
        try body()
        let message = comment.map { "expected a KafkaWireError: \($0.rawValue)" } ?? "expected a KafkaWireError"
        Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// Builds expected bytes from commented parts: byte arrays and ASCII strings, one field per line.
@resultBuilder
enum WireBytes {
    static func buildExpression(_ bytes: [UInt8]) -> [UInt8] { bytes }
    static func buildExpression(_ text: String) -> [UInt8] { Array(text.utf8) }
    static func buildPartialBlock(first: [UInt8]) -> [UInt8] { first }
    static func buildPartialBlock(accumulated: [UInt8], next: [UInt8]) -> [UInt8] { accumulated + next }
}

func wire(@WireBytes _ body: () -> [UInt8]) -> [UInt8] { body() }

/// Checks both directions of a known-good encoding: `value` writes exactly `bytes`, and `bytes` read back as
/// `value` with nothing left over.
func expectEncoding<Message: KafkaVersionedData & Equatable>(
    _ value: Message,
    version: Int16,
    is bytes: [UInt8],
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    var written = ByteBuffer()
    try value.write(into: &written, version: version)
    #expect(
        Array(written.readableBytesView) == bytes,
        "written \(written.hexDump), expected \(ByteBuffer(bytes: bytes).hexDump)",
        sourceLocation: sourceLocation
    )
    var reader = ByteBuffer(bytes: bytes)
    let decoded = try Message(from: &reader, version: version)
    #expect(decoded == value, sourceLocation: sourceLocation)
    #expect(reader.readableBytes == 0, "bytes left after reading", sourceLocation: sourceLocation)
}
