import MQTT5
import NIOCore
import Testing

/// Random and mutated input, with a fixed seed so a failure repeats: decoding must never trap, must fail only with
/// an `MQTTProtocolError` whose Reason Code may be sent, and whatever it does decode must write back and decode to
/// the same packet.
@Suite struct MQTTPacketFuzzTests {
    private static let corpus: [[UInt8]] = Samples.allPackets.map { (try? encode($0)) ?? [] }

    private func mutate(_ bytes: [UInt8], using random: inout SeededGenerator) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            switch Int.random(in: 0..<7, using: &random) {
            case 0 where !bytes.isEmpty:  // flip a bit
                let index = Int.random(in: 0..<bytes.count, using: &random)
                bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 1 where !bytes.isEmpty:  // replace a byte
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            case 2:  // insert a byte
                bytes.insert(
                    UInt8.random(in: 0...255, using: &random), at: Int.random(in: 0...bytes.count, using: &random))
            case 3 where !bytes.isEmpty:  // delete a byte
                bytes.remove(at: Int.random(in: 0..<bytes.count, using: &random))
            case 4 where !bytes.isEmpty:  // truncate
                bytes.removeLast(Int.random(in: 0..<bytes.count, using: &random))
            case 5 where bytes.count > 1:  // change the property or Remaining Length byte after the header
                bytes[1] = UInt8.random(in: 0...255, using: &random)
            default:  // append random bytes
                bytes += (0..<Int.random(in: 1...8, using: &random)).map { _ in
                    UInt8.random(in: 0...255, using: &random)
                }
            }
        }
        return bytes
    }

    /// Decodes everything in `input`; returns how many packets came out.
    @discardableResult
    private func exercise(_ input: [UInt8], maximumPacketSize: Int) -> Int {
        var decoder = MQTTPacketDecoder(maximumPacketSize: maximumPacketSize)
        var buffer = ByteBuffer(bytes: input)
        var decoded = 0
        while true {
            let readerIndex = buffer.readerIndex
            do {
                guard let packet = try decoder.decode(buffer: &buffer) else {
                    #expect(buffer.readerIndex == readerIndex)
                    return decoded
                }
                decoded += 1
                #expect(buffer.readerIndex > readerIndex)
                do {
                    let again = try decode(try encode(packet))
                    #expect(again == packet, "input \(hex(input))")
                } catch {
                    Issue.record("\(packet) decoded from \(hex(input)) but does not write back: \(error)")
                }
            } catch let error as MQTTProtocolError {
                #expect(buffer.readerIndex == readerIndex, "an error consumes nothing")
                let reason = error.disconnectReason
                #expect(reason.isAllowed(in: .disconnect) || reason.isAllowed(in: .connAck))
                return decoded
            } catch {
                Issue.record("unexpected error type \(error)")
                return decoded
            }
        }
    }

    @Test func mutatedPacketsNeverTrap() {
        var random = SeededGenerator(seed: 0x5EED_0005)
        var decodedCount = 0
        for iteration in 0..<5_000 {
            let base = Self.corpus[iteration % Self.corpus.count]
            // Sometimes two packets back to back, so a mutation can shift the boundary between them.
            let input = Bool.random(using: &random) ? base : base + Self.corpus.randomElement(using: &random)!
            decodedCount += exercise(
                mutate(input, using: &random), maximumPacketSize: Bool.random(using: &random) ? 64 : 1 << 20)
        }
        // The mutations leave some packets valid: the round-trip check above has run on a good number of them.
        #expect(decodedCount > 500)
    }

    @Test func randomBytesNeverTrap() {
        var random = SeededGenerator(seed: 0xF022)
        for _ in 0..<3_000 {
            let count = Int.random(in: 0...64, using: &random)
            var input = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            // Give most inputs a plausible first byte and a Remaining Length that fits, to get past the header.
            if input.count >= 2 && Bool.random(using: &random) {
                let type = MQTTPacketType.allCases.randomElement(using: &random)!
                input[0] = type.rawValue << 4 | (type.requiredFlags ?? input[0] & 0x0F)
                input[1] = UInt8(min(input.count - 2, 127))
            }
            exercise(input, maximumPacketSize: 1 << 20)
        }
    }
}
