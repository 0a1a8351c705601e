import KafkaWire
import NIOCore

/// Chooses the partition of each record of one topic, the way the Java producer does.
///
/// Keyed records go to `toPositive(murmur2(key)) % partitionCount`, the formula of the Java client's built-in
/// partitioner and of librdkafka's `murmur2_random`, so records with the same key land on the same partition
/// whichever of these clients wrote them.
///
/// Keep one value per topic: the sticky partition and the round-robin counter are per-topic state. The value is
/// a pure state machine; the producer calls ``partition(forKey:partitionCount:available:)`` for each record and
/// ``batchCompleted(partition:)`` when a batch leaves the accumulator.
public struct KafkaPartitioner: Sendable {
    /// How records are spread over partitions.
    public struct Strategy: Sendable, Hashable, CustomStringConvertible {
        enum Kind: Hashable {
            case sticky
            case roundRobin
        }

        let kind: Kind

        /// The Java producer's default: keyed records by the key's murmur2 hash; records without a key stick to
        /// one partition until a batch for it is completed, then move to a random other available one (KIP-480).
        public static let sticky = Strategy(kind: .sticky)

        /// The Java client's `RoundRobinPartitioner`: every record, keyed or not, goes to the next available
        /// partition in turn. Keys do not pick partitions with this strategy.
        public static let roundRobin = Strategy(kind: .roundRobin)

        public var description: String {
            switch kind {
            case .sticky: "sticky"
            case .roundRobin: "roundRobin"
            }
        }
    }

    /// How records are spread over partitions.
    public let strategy: Strategy

    /// The partition keyless records currently go to (`.sticky`).
    private var stickyPartition: Int32?
    /// The partition whose batch completed last, so the next sticky choice avoids it when it can.
    private var previousStickyPartition: Int32?
    /// How many records `.roundRobin` has placed.
    private var roundRobinCounter: UInt64 = 0

    /// Creates a partitioner for one topic.
    /// - Parameter strategy: How records are spread. Default: `.sticky`, as the Java producer.
    public init(strategy: Strategy = .sticky) {
        self.strategy = strategy
    }

    // MARK: Events

    /// The partition for a record.
    ///
    /// - Parameters:
    ///   - key: The record's serialized key (its readable bytes); `nil` for a record without a key. An empty key
    ///     is a key, hashed like any other, as in the Java client.
    ///   - partitionCount: The topic's partition count from metadata.
    ///   - available: Partitions whose leader is known, or `nil` to treat all as available. Keyed records ignore
    ///     this (a key always maps to the same partition); the other choices prefer these partitions.
    /// - Throws: `KafkaError` with `UNKNOWN_TOPIC_OR_PARTITION` (retriable) when `partitionCount` is not positive,
    ///   which is how metadata describes a topic that does not exist yet.
    public mutating func partition(
        forKey key: ByteBuffer?,
        partitionCount: Int,
        available: [Int32]? = nil
    ) throws(KafkaError) -> Int32 {
        var generator = SystemRandomNumberGenerator()
        return try partition(forKey: key, partitionCount: partitionCount, available: available, using: &generator)
    }

    /// The partition for a record, drawing random choices from `generator` (tests pass a seeded one).
    public mutating func partition(
        forKey key: ByteBuffer?,
        partitionCount: Int,
        available: [Int32]? = nil,
        using generator: inout some RandomNumberGenerator
    ) throws(KafkaError) -> Int32 {
        guard partitionCount > 0, partitionCount <= Int(Int32.max) else {
            throw KafkaError.broker(
                .unknownTopicOrPartition, "cannot choose a partition among \(partitionCount) partitions")
        }
        let available = available.flatMap { $0.isEmpty ? nil : $0 }

        switch strategy.kind {
        case .roundRobin:
            return nextRoundRobinPartition(partitionCount: partitionCount, available: available)
        case .sticky:
            if let key {
                return Self.partition(forKey: key, partitionCount: partitionCount)
            }
            return stickyPartition(partitionCount: partitionCount, available: available, using: &generator)
        }
    }

    /// A batch for `partition` was sent or became full: keyless records move to another partition (`.sticky`).
    /// Batches of other partitions do not move them, as in Java's `StickyPartitionCache`.
    public mutating func batchCompleted(partition: Int32) {
        guard partition == stickyPartition else { return }
        previousStickyPartition = partition
        stickyPartition = nil
    }

    // MARK: Hashing

    /// The partition of a keyed record: `toPositive(murmur2(key)) % partitionCount`.
    /// - Precondition: `partitionCount > 0`.
    public static func partition(forKey key: ByteBuffer, partitionCount: Int) -> Int32 {
        precondition(partitionCount > 0 && partitionCount <= Int(Int32.max), "partitionCount must be positive")
        return toPositive(murmur2(key)) % Int32(partitionCount)
    }

    /// The partition of a keyed record: `toPositive(murmur2(key)) % partitionCount`.
    /// - Precondition: `partitionCount > 0`.
    public static func partition(forKey key: [UInt8], partitionCount: Int) -> Int32 {
        precondition(partitionCount > 0 && partitionCount <= Int(Int32.max), "partitionCount must be positive")
        return toPositive(murmur2(key)) % Int32(partitionCount)
    }

    /// Kafka's `Utils.toPositive`: clears the sign bit, unlike `abs`, so `Int32.min` maps to 0 rather than
    /// trapping (Java's `Math.abs(Integer.MIN_VALUE)` stays negative, which once broke partitioning there).
    public static func toPositive(_ value: Int32) -> Int32 {
        value & 0x7fff_ffff
    }

    /// Kafka's `Utils.murmur2` (MurmurHash2, 32-bit, seed `0x9747b28c`) of the buffer's readable bytes.
    public static func murmur2(_ buffer: ByteBuffer) -> Int32 {
        buffer.withUnsafeReadableBytes { murmur2(bytes: $0) }
    }

    /// Kafka's `Utils.murmur2` (MurmurHash2, 32-bit, seed `0x9747b28c`) of the bytes.
    public static func murmur2(_ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBytes { murmur2(bytes: $0) }
    }

    private static func murmur2(bytes: UnsafeRawBufferPointer) -> Int32 {
        // Java computes this on `int`s with wrapping arithmetic and `>>>`; UInt32 with `&*` and `>>` is the same
        // bit pattern.
        let seed: UInt32 = 0x9747_b28c
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24

        let length = bytes.count
        // Java XORs the seed with the `int` length; for lengths below 2^32 the truncation is the same.
        var h = seed ^ UInt32(truncatingIfNeeded: length)

        let wholeWords = length / 4
        for index in 0..<wholeWords {
            var k = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
            k &*= m
            k ^= k >> r
            k &*= m
            h &*= m
            h ^= k
        }

        // The tail, as Java's switch with fall-through: case 3 adds byte 2, case 2 byte 1, case 1 byte 0 and mixes.
        let tail = wholeWords * 4
        let remaining = length % 4
        if remaining == 3 {
            h ^= UInt32(bytes[tail + 2]) << 16
        }
        if remaining >= 2 {
            h ^= UInt32(bytes[tail + 1]) << 8
        }
        if remaining >= 1 {
            h ^= UInt32(bytes[tail])
            h &*= m
        }

        h ^= h >> 13
        h &*= m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }

    // MARK: Choices without a key

    private mutating func stickyPartition(
        partitionCount: Int,
        available: [Int32]?,
        using generator: inout some RandomNumberGenerator
    ) -> Int32 {
        if let current = stickyPartition, Int(current) < partitionCount,
            available.map({ $0.contains(current) }) ?? true
        {
            return current
        }
        // A new sticky partition, also when the current one lost its leader: waiting for a batch on a partition
        // that cannot be sent to would hold keyless records back for no reason.
        let candidates = available ?? Array(0..<Int32(partitionCount))
        let previous = stickyPartition ?? previousStickyPartition
        // Java draws again until it gets a partition other than the previous one; drawing among the others once
        // gives the same uniform choice.
        let others = candidates.filter { $0 != previous }
        let pool = others.isEmpty ? candidates : others
        let chosen = pool[Int.random(in: 0..<pool.count, using: &generator)]
        stickyPartition = chosen
        return chosen
    }

    private mutating func nextRoundRobinPartition(partitionCount: Int, available: [Int32]?) -> Int32 {
        defer { roundRobinCounter &+= 1 }
        if let available {
            return available[Int(roundRobinCounter % UInt64(available.count))]
        }
        return Int32(roundRobinCounter % UInt64(partitionCount))
    }
}
