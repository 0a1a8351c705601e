import MQTT5
import NIOCore
import Testing

/// Bytes from a hex string; spaces, newlines and `|` (used to mark fields) are ignored.
func bytes(_ hex: String) -> [UInt8] {
    let digits = hex.filter { $0.isHexDigit }
    precondition(digits.count % 2 == 0, "odd number of hex digits in \(hex)")
    var result: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        result.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return result
}

/// Packet bytes from hex, where the token `RL` stands for the Remaining Length of everything after it.
func wire(_ hex: String) -> [UInt8] {
    guard let marker = hex.firstRange(of: "RL") else { return bytes(hex) }
    let body = bytes(String(hex[marker.upperBound...]))
    var length = ByteBuffer()
    _ = try? length.writeMQTTVariableByteInteger(body.count)
    return bytes(String(hex[..<marker.lowerBound])) + Array(length.readableBytesView) + body
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        .joined(separator: " ")
}

func buffer(_ string: String) -> ByteBuffer { ByteBuffer(string: string) }

/// SplitMix64: a small generator with a fixed seed, so random tests repeat exactly.
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

/// Checks that `body` throws an `MQTTProtocolError` with `code`.
func expectError(
    _ code: MQTTProtocolError.Code,
    _ comment: Comment? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("no error; expected \(code)", sourceLocation: sourceLocation)
    } catch let error as MQTTProtocolError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
    }
}
