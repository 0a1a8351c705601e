import NIOCore
import Testing

@testable import KafkaWire

@Suite struct CRC32CTests {
    // "123456789" is the check value of every CRC catalogue; the 32-byte vectors are RFC 3720's (iSCSI), appendix B.4.
    static let vectors: [([UInt8], UInt32)] = [
        (Array("123456789".utf8), 0xE306_9283),
        ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ((0..<32).map { UInt8($0) }, 0x46DD_794E),
        ((0..<32).reversed().map { UInt8($0) }, 0x113F_DB5C),
        ([], 0),
    ]

    @Test(arguments: vectors)
    func knownVectors(bytes: [UInt8], expected: UInt32) {
        #expect(CRC32C.checksum(bytes) == expected)
        #expect(bytes.withUnsafeBytes { CRC32C.checksum($0) } == expected)
        #expect(CRC32C.checksum(ByteBuffer(bytes: bytes).readableBytesView) == expected)
    }

    @Test func updatingInPiecesEqualsTheWhole() {
        var generator = SplitMix64(seed: 1)
        let bytes = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let whole = CRC32C.checksum(bytes)
        // Every split point, so both the 8-byte steps and the byte-at-a-time tail are crossed.
        for split in 0...bytes.count {
            let first = CRC32C.checksum(bytes[..<split])
            #expect(CRC32C.update(first, with: bytes[split...]) == whole)
        }
    }

    @Test func unalignedStartsAgree() {
        var generator = SplitMix64(seed: 2)
        let bytes = (0..<100).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let buffer = ByteBuffer(bytes: bytes)
        for start in 0..<16 {
            let view = buffer.viewBytes(at: start, length: bytes.count - start)!
            #expect(CRC32C.checksum(view) == CRC32C.checksum(bytes[start...]))
        }
    }
}

/// The CPU instruction path and the table path give the same checksums.
@Suite struct CRC32CHardwareTests {
    @Test func instructionAndTablesAgreeOnEveryLengthAndStart() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<300 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let start = UInt32.random(in: 0...UInt32.max, using: &generator)
            bytes.withUnsafeBytes { raw in
                let tables = CRC32C.updateWithTables(start, with: raw)
                #expect(CRC32C.update(start, with: raw) == tables, "length \(length)")
            }
        }
        let known = Array("123456789".utf8)
        known.withUnsafeBytes { raw in
            #expect(CRC32C.updateWithTables(0, with: raw) == 0xE306_9283)
            #expect(CRC32C.update(0, with: raw) == 0xE306_9283)
        }
    }
}
