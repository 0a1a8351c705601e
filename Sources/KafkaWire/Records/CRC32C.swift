import CKafkaCRC32C
import NIOCore

/// CRC-32C (Castagnoli), the checksum of Kafka record batches (magic v2).
///
/// Table-driven, slicing-by-8: eight bytes per step through eight 256-entry tables computed once.
/// `checksum(a + b) == update(checksum(a), with: b)`, so a checksum can be computed over pieces.
public enum CRC32C {
    /// The reflected Castagnoli polynomial 0x1EDC6F41.
    static let polynomial: UInt32 = 0x82F6_3B78

    /// Eight tables of 256 entries, flattened: entry `k * 256 + i` is the CRC of byte `i` followed by `k` zero
    /// bytes, which is what lets one step fold eight input bytes at once.
    static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ polynomial : crc >> 1
            }
            tables[byte] = crc
        }
        for slice in 1..<8 {
            for byte in 0..<256 {
                let previous = tables[(slice - 1) * 256 + byte]
                tables[slice * 256 + byte] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
            }
        }
        return tables
    }()

    /// The CRC-32C of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        update(0, with: bytes)
    }

    /// The CRC-32C of `bytes`.
    public static func checksum(_ bytes: ByteBufferView) -> UInt32 {
        update(0, with: bytes)
    }

    /// The CRC-32C of `bytes`.
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        update(0, with: bytes)
    }

    /// Continues `crc`, the checksum of earlier bytes, over `bytes`.
    public static func update(_ crc: UInt32, with bytes: ByteBufferView) -> UInt32 {
        // A ByteBufferView is always contiguous; the fallback only keeps the compiler honest.
        bytes.withContiguousStorageIfAvailable { update(crc, with: UnsafeRawBufferPointer($0)) }
            ?? update(crc, with: Array(bytes))
    }

    /// Continues `crc`, the checksum of earlier bytes, over `bytes`.
    public static func update(_ crc: UInt32, with bytes: some Sequence<UInt8>) -> UInt32 {
        if let result = bytes.withContiguousStorageIfAvailable({ update(crc, with: UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return update(crc, with: Array(bytes))
    }

    /// Continues `crc`, the checksum of earlier bytes, over `bytes`.
    /// Whether the CPU's CRC32C instruction is used (checked once).
    static let usesHardware: Bool = sluice_crc32c_hardware_available() != 0

    public static func update(_ crc: UInt32, with bytes: UnsafeRawBufferPointer) -> UInt32 {
        if usesHardware, let base = bytes.baseAddress {
            return sluice_crc32c_hardware_update(crc, base, bytes.count)
        }
        return updateWithTables(crc, with: bytes)
    }

    /// The same checksum by table lookups (slicing by 8), for CPUs without the instruction.
    static func updateWithTables(_ crc: UInt32, with bytes: UnsafeRawBufferPointer) -> UInt32 {
        tables.withUnsafeBufferPointer { table in
            var crc = ~crc
            var index = 0
            let count = bytes.count
            while count - index >= 8 {
                // Little-endian load: the reflected CRC consumes the lowest-addressed byte first.
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                let low = UInt32(truncatingIfNeeded: word) ^ crc
                let high = UInt32(truncatingIfNeeded: word >> 32)
                crc =
                    table[7 * 256 + Int(low & 0xFF)] ^ table[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ table[5 * 256 + Int((low >> 16) & 0xFF)] ^ table[4 * 256 + Int(low >> 24)]
                    ^ table[3 * 256 + Int(high & 0xFF)] ^ table[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ table[1 * 256 + Int((high >> 16) & 0xFF)] ^ table[Int(high >> 24)]
                index += 8
            }
            while index < count {
                crc = (crc >> 8) ^ table[Int((crc ^ UInt32(bytes[index])) & 0xFF)]
                index += 1
            }
            return ~crc
        }
    }
}
