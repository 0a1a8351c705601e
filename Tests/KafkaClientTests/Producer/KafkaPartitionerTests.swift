import KafkaClient
import KafkaWire
import NIOCore
import Testing

@Suite struct KafkaPartitionerTests {
    // MARK: murmur2

    /// Kafka's `UtilsTest.testMurmur2`: the values Java's `Utils.murmur2` gives for these bytes.
    @Test(
        arguments: [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            ("abc", 479_470_107),
        ] as [(String, Int32)])
    func murmur2MatchesKafkasUtilsTest(key: String, expected: Int32) {
        #expect(KafkaPartitioner.murmur2(Array(key.utf8)) == expected)
        #expect(KafkaPartitioner.murmur2(ByteBuffer(string: key)) == expected)
    }

    /// librdkafka's `unittest_murmur2` (src/rdmurmur2.c), whose values it checks against Java's: every tail length,
    /// and "" (Java's `Utils.murmur2("".getBytes())` is 275646681, 0x106e08d9: only the final mixes of the seed).
    @Test(
        arguments: [
            ("kafka", 0xd067_cf64),
            ("giberish123456789", 0x8f55_2b0c),
            ("1234", 0x9fc9_7b14),
            ("234", 0xe7c0_09ca),
            ("34", 0x8739_30da),
            ("4", 0x5a4b_5ca1),
            ("PreAmbleWillBeRemoved,ThePrePartThatIs", 0x7842_4f1c),
            ("reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62_b377),
            ("eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4_e09e),
            ("AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8_b43f),
            ("", 0x106e_08d9),
        ] as [(String, UInt32)])
    func murmur2MatchesLibrdkafka(key: String, expected: UInt32) {
        #expect(KafkaPartitioner.murmur2(Array(key.utf8)) == Int32(bitPattern: expected))
    }

    @Test func emptyKeyHashesLikeJava() {
        #expect(KafkaPartitioner.murmur2([]) == 275_646_681)
        #expect(KafkaPartitioner.partition(forKey: [UInt8](), partitionCount: 10) == 275_646_681 % 10)
    }

    @Test func hashesOnlyTheReadableBytesOfABuffer() {
        // Reading past a prefix also leaves the words unaligned, which the hash must not care about.
        var buffer = ByteBuffer(string: "xPreAmbleWillBeRemoved,ThePrePartThatIs")
        buffer.moveReaderIndex(forwardBy: 1)
        #expect(KafkaPartitioner.murmur2(buffer) == 0x7842_4f1c)
    }

    @Test func toPositiveClearsTheSignBit() {
        #expect(KafkaPartitioner.toPositive(-1) == Int32.max)
        #expect(KafkaPartitioner.toPositive(Int32.min) == 0)
        #expect(KafkaPartitioner.toPositive(42) == 42)
    }

    @Test func keyedPartitionIsThePositiveHashModuloTheCount() {
        // toPositive(-790332482) = 1357151166; 1357151166 % 50 = 16.
        #expect(KafkaPartitioner.partition(forKey: Array("foobar".utf8), partitionCount: 50) == 16)
        // toPositive(-973932308) = 1173551340; 1173551340 % 12 = 0.
        #expect(KafkaPartitioner.partition(forKey: ByteBuffer(string: "21"), partitionCount: 12) == 0)
        // 0xd067cf64 & 0x7fffffff = 1348980580; 1348980580 % 7 = 3.
        #expect(KafkaPartitioner.partition(forKey: Array("kafka".utf8), partitionCount: 7) == 3)
    }

    // MARK: Sticky

    @Test func keyedRecordsIgnoreAvailabilityAndTheStickyPartition() throws {
        var partitioner = KafkaPartitioner()
        var generator = SplitMix64(seed: 1)
        let key = ByteBuffer(string: "foobar")
        // A key always maps to the same partition, available or not, as in Java.
        let partition = try partitioner.partition(
            forKey: key, partitionCount: 50, available: [1, 2, 3], using: &generator)
        #expect(partition == 16)
    }

    @Test func keylessRecordsStickUntilTheirBatchCompletes() throws {
        var partitioner = KafkaPartitioner(strategy: .sticky)
        var generator = SplitMix64(seed: 7)
        let first = try partitioner.partition(forKey: nil, partitionCount: 6, using: &generator)
        #expect((0..<6).contains(first))
        for _ in 0..<20 {
            #expect(try partitioner.partition(forKey: nil, partitionCount: 6, using: &generator) == first)
        }

        // Another partition's batch does not move keyless records.
        partitioner.batchCompleted(partition: (first + 1) % 6)
        #expect(try partitioner.partition(forKey: nil, partitionCount: 6, using: &generator) == first)

        // Their own batch does, to another partition, where they stick again.
        partitioner.batchCompleted(partition: first)
        let second = try partitioner.partition(forKey: nil, partitionCount: 6, using: &generator)
        #expect(second != first)
        #expect(try partitioner.partition(forKey: nil, partitionCount: 6, using: &generator) == second)
    }

    @Test func aNewStickyPartitionIsNeverThePreviousOne() throws {
        var partitioner = KafkaPartitioner()
        var generator = SplitMix64(seed: 42)
        var previous = try partitioner.partition(forKey: nil, partitionCount: 2, using: &generator)
        var seen: Set<Int32> = [previous]
        for _ in 0..<50 {
            partitioner.batchCompleted(partition: previous)
            let next = try partitioner.partition(forKey: nil, partitionCount: 2, using: &generator)
            #expect(next != previous)
            seen.insert(next)
            previous = next
        }
        #expect(seen == [0, 1])
    }

    @Test func keylessRecordsGoOnlyToAvailablePartitions() throws {
        var partitioner = KafkaPartitioner()
        var generator = SplitMix64(seed: 3)
        var chosen: Set<Int32> = []
        for _ in 0..<100 {
            let partition = try partitioner.partition(
                forKey: nil, partitionCount: 10, available: [2, 5, 7], using: &generator)
            chosen.insert(partition)
            partitioner.batchCompleted(partition: partition)
        }
        #expect(chosen == [2, 5, 7])
    }

    @Test func theStickyPartitionMovesWhenItLosesItsLeader() throws {
        var partitioner = KafkaPartitioner()
        var generator = SplitMix64(seed: 9)
        let first = try partitioner.partition(
            forKey: nil, partitionCount: 3, available: [0, 1, 2], using: &generator)
        let others = [Int32(0), 1, 2].filter { $0 != first }
        let next = try partitioner.partition(forKey: nil, partitionCount: 3, available: others, using: &generator)
        #expect(others.contains(next))
    }

    @Test func aSingleAvailablePartitionTakesEverything() throws {
        var partitioner = KafkaPartitioner()
        var generator = SplitMix64(seed: 5)
        for _ in 0..<5 {
            let partition = try partitioner.partition(
                forKey: nil, partitionCount: 4, available: [3], using: &generator)
            #expect(partition == 3)
            partitioner.batchCompleted(partition: partition)
        }
    }

    @Test func anEmptyAvailableListMeansAllPartitions() throws {
        var partitioner = KafkaPartitioner()
        var generator = SplitMix64(seed: 11)
        let partition = try partitioner.partition(forKey: nil, partitionCount: 4, available: [], using: &generator)
        #expect((0..<4).contains(partition))
    }

    @Test func noPartitionsIsARetriableUnknownTopic() {
        var partitioner = KafkaPartitioner()
        let error = #expect(throws: KafkaError.self) {
            try partitioner.partition(forKey: nil, partitionCount: 0)
        }
        #expect(error?.code == .broker(.unknownTopicOrPartition))
        #expect(error?.isRetriable == true)
    }

    // MARK: Round robin

    @Test func roundRobinCyclesThroughAllPartitionsIgnoringKeys() throws {
        var partitioner = KafkaPartitioner(strategy: .roundRobin)
        var chosen: [Int32] = []
        for index in 0..<7 {
            let key: ByteBuffer? = index.isMultiple(of: 2) ? ByteBuffer(string: "foobar") : nil
            chosen.append(try partitioner.partition(forKey: key, partitionCount: 3))
        }
        #expect(chosen == [0, 1, 2, 0, 1, 2, 0])
    }

    @Test func roundRobinCyclesThroughAvailablePartitions() throws {
        var partitioner = KafkaPartitioner(strategy: .roundRobin)
        var chosen: [Int32] = []
        for _ in 0..<5 {
            chosen.append(try partitioner.partition(forKey: nil, partitionCount: 8, available: [1, 4, 6]))
        }
        #expect(chosen == [1, 4, 6, 1, 4])
        // Batches do not matter to round robin.
        partitioner.batchCompleted(partition: 4)
        #expect(try partitioner.partition(forKey: nil, partitionCount: 8, available: [1, 4, 6]) == 6)
    }
}

/// A seeded generator (SplitMix64), so random choices repeat from run to run.
private struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
