import KafkaWire
import NIOCore
import Testing

/// Random and mutated input, decoded as every message type: it must be refused with a `KafkaWireError` or read
/// as a value; never trap. When it is read, writing that value and reading it again must give the same value and
/// the same bytes (whatever was lenient in the first read, such as unknown tagged fields, is normalised once).
///
/// Seeded: a failure names the seed and iteration, and rerunning gives the same inputs.
@Suite struct MessageFuzzTests {
    static let iterationsPerType = 4000

    @Test(arguments: MessageCodecCase.all)
    func randomAndMutatedBytesNeverTrap(_ codec: MessageCodecCase) {
        fuzz(codec.messageType, seed: fnv1a(ByteBuffer(string: codec.name)), iterations: Self.iterationsPerType)
    }

    private func fuzz<Message: SampledMessage>(_: Message.Type, seed: UInt64, iterations: Int) {
        var random = SeededGenerator(seed: seed)
        var samples: [(version: Int16, bytes: ByteBuffer)] = []
        for version in Message.supportedVersions {
            for nulls in [false, true] {
                var bytes = ByteBuffer()
                do {
                    try Message.sample(version: version, nulls: nulls).write(into: &bytes, version: version)
                    samples.append((version, bytes))
                } catch {
                    Issue.record("\(Message.self) v\(version): \(error)")
                }
            }
        }
        guard !samples.isEmpty else { return }
        var accepted = 0
        for iteration in 0..<iterations {
            let version: Int16
            var input: ByteBuffer
            if iteration.isMultiple(of: 2) {
                version = Message.supportedVersions.randomElement(using: &random)!
                input = Self.garbage(using: &random)
            } else {
                let sample = samples.randomElement(using: &random)!
                version = sample.version
                input = Self.mutate(sample.bytes, using: &random)
            }
            let original = input
            let decoded: Message
            do {
                decoded = try Message(from: &input, version: version)
            } catch {
                continue  // refused, with a KafkaWireError (the only error the reader can throw)
            }
            accepted += 1
            func context(_ input: ByteBuffer) -> String {
                "\(Message.self) v\(version) seed \(seed) iteration \(iteration) input \(input.hexDump)"
            }
            do {
                var first = ByteBuffer()
                try decoded.write(into: &first, version: version)
                var reader = first
                let again = try Message(from: &reader, version: version)
                var second = ByteBuffer()
                try again.write(into: &second, version: version)
                guard again == decoded, reader.readableBytes == 0, first == second else {
                    Issue.record(
                        "\(context(original)): not stable after one write; \(first.hexDump) then \(second.hexDump)")
                    return
                }
            } catch {
                Issue.record("\(context(original)): a value read from bytes cannot be written and read again: \(error)")
                return
            }
        }
        // Mutated samples are often still valid messages, so some inputs must have been read.
        #expect(accepted > 0, "\(Message.self): no input was accepted; the fuzzing reaches nothing past the start")
    }

    /// Bytes biased towards values that matter to lengths and counts (0, 1, 0x7F, 0x80, 0xFF).
    private static func garbage(using random: inout SeededGenerator) -> ByteBuffer {
        var buffer = ByteBuffer()
        for _ in 0..<Int.random(in: 0...80, using: &random) {
            buffer.writeInteger(interestingByte(using: &random))
        }
        return buffer
    }

    private static func interestingByte(using random: inout SeededGenerator) -> UInt8 {
        if Bool.random(using: &random) {
            return [0x00, 0x01, 0x02, 0x03, 0x7F, 0x80, 0xFE, 0xFF].randomElement(using: &random)!
        }
        return UInt8.random(in: 0...255, using: &random)
    }

    private static func mutate(_ sample: ByteBuffer, using random: inout SeededGenerator) -> ByteBuffer {
        var bytes = Array(sample.readableBytesView)
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            switch Int.random(in: 0..<5, using: &random) {
            case 0 where !bytes.isEmpty:
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = interestingByte(using: &random)
            case 1:
                bytes.insert(interestingByte(using: &random), at: Int.random(in: 0...bytes.count, using: &random))
            case 2 where !bytes.isEmpty:
                bytes.remove(at: Int.random(in: 0..<bytes.count, using: &random))
            case 3:
                bytes.removeLast(Int.random(in: 0...min(8, bytes.count), using: &random))
            default:
                let start = Int.random(in: 0...bytes.count, using: &random)
                let end = min(bytes.count, start + Int.random(in: 0...8, using: &random))
                bytes.insert(contentsOf: bytes[start..<end], at: Int.random(in: 0...bytes.count, using: &random))
            }
        }
        return ByteBuffer(bytes: bytes)
    }
}
