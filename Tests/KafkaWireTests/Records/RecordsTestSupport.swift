import KafkaWire
import NIOCore

/// A seeded generator, so that fuzz and property tests fail the same way every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum RecordsTestSupport {
    static let timestamp: Int64 = 1_700_000_000_000

    /// Writes each batch in turn into one buffer, as a Fetch response's records would hold them.
    static func bytes(of batches: [KafkaRecordBatch]) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        for batch in batches {
            try batch.write(into: &buffer)
        }
        return buffer
    }

    /// Recomputes the CRC of the batch starting at `start`, after a test has edited its bytes on purpose.
    static func fixCRC(_ buffer: inout ByteBuffer, batchAt start: Int = 0) {
        let length = Int(buffer.getInteger(at: start + 8, as: Int32.self)!)
        let covered = buffer.viewBytes(at: start + 21, length: length - 9)!
        buffer.setInteger(CRC32C.checksum(covered), at: start + 17)
    }

    /// A data batch whose records take the offsets `baseOffset...` one each.
    static func dataBatch(
        baseOffset: Int64,
        count: Int,
        producerId: Int64 = -1,
        isTransactional: Bool = false
    ) -> KafkaRecordBatch {
        let records = (0..<count).map { index in
            KafkaRecord(
                offset: baseOffset + Int64(index), timestamp: timestamp + Int64(index),
                value: ByteBuffer(string: "value \(baseOffset + Int64(index))"))
        }
        return KafkaRecordBatch(
            baseOffset: baseOffset, isTransactional: isTransactional, lastOffsetDelta: Int32(count - 1),
            baseTimestamp: timestamp, maxTimestamp: timestamp + Int64(count - 1), producerId: producerId,
            producerEpoch: producerId == -1 ? -1 : 0, records: records)
    }

    /// A transaction marker as the broker writes it: a control batch of one record whose key is
    /// `version: int16 = 0, type: int16` and whose value is `version: int16 = 0, coordinatorEpoch: int32`.
    static func controlBatch(
        offset: Int64,
        producerId: Int64,
        type: KafkaRecordBatch.ControlRecordType
    ) -> KafkaRecordBatch {
        var key = ByteBuffer()
        key.writeInteger(Int16(0))
        key.writeInteger(type.rawValue)
        var value = ByteBuffer()
        value.writeInteger(Int16(0))
        value.writeInteger(Int32(3))
        return KafkaRecordBatch(
            baseOffset: offset, isTransactional: true, isControl: true, lastOffsetDelta: 0,
            baseTimestamp: timestamp, maxTimestamp: timestamp, producerId: producerId, producerEpoch: 0,
            records: [KafkaRecord(offset: offset, timestamp: timestamp, key: key, value: value)])
    }
}
