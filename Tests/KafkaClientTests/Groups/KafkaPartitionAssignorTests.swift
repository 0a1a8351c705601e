import KafkaClient
import Testing

/// Expected assignments are worked out by hand from Java's `RangeAssignor` and `RoundRobinAssignor` (their
/// Javadoc examples and `RangeAssignorTest` cases where noted).
@Suite struct KafkaPartitionAssignorTests {
    private func member(
        _ memberId: String,
        instance: String? = nil,
        _ topics: [String]
    ) -> KafkaGroupMemberSubscription {
        KafkaGroupMemberSubscription(memberId: memberId, groupInstanceId: instance, topics: topics)
    }

    @Test func protocolNamesAreThoseOfTheJavaClientAndLibrdkafka() {
        #expect(KafkaPartitionAssignor.range.name == "range")
        #expect(KafkaPartitionAssignor.roundRobin.name == "roundrobin")
        #expect(KafkaPartitionAssignor(name: "range") == .range)
        #expect(KafkaPartitionAssignor(name: "roundrobin") == .roundRobin)
        #expect(KafkaPartitionAssignor(name: "cooperative-sticky") == nil)
    }

    // MARK: Range

    @Test func rangeGivesContiguousRangesPerTopic() {
        // RangeAssignor's Javadoc example.
        let assignment = KafkaPartitionAssignor.range.assign(
            members: [member("C1", ["t0", "t1"]), member("C0", ["t0", "t1"])],
            partitionCounts: ["t0": 3, "t1": 3]
        )
        #expect(assignment == ["C0": ["t0": [0, 1], "t1": [0, 1]], "C1": ["t0": [2], "t1": [2]]])
    }

    @Test func rangeGivesTheFirstMembersOneMore() {
        let assignment = KafkaPartitionAssignor.range.assign(
            members: [member("c", ["t"]), member("a", ["t"]), member("b", ["t"])],
            partitionCounts: ["t": 7]
        )
        #expect(assignment == ["a": ["t": [0, 1, 2]], "b": ["t": [3, 4]], "c": ["t": [5, 6]]])
    }

    @Test func rangeSplitsEachTopicAmongItsOwnSubscribers() {
        // RangeAssignorTest.testMultipleConsumersMixedTopics.
        let assignment = KafkaPartitionAssignor.range.assign(
            members: [
                member("consumer1", ["topic1"]),
                member("consumer2", ["topic1", "topic2"]),
                member("consumer3", ["topic1"]),
            ],
            partitionCounts: ["topic1": 3, "topic2": 2]
        )
        #expect(
            assignment == [
                "consumer1": ["topic1": [0]],
                "consumer2": ["topic1": [1], "topic2": [0, 1]],
                "consumer3": ["topic1": [2]],
            ])
    }

    @Test func rangeWithUnequalSubscriptions() {
        // x: a, c share 2; y: a, b, c share 4 (a gets the extra); z: c alone.
        let assignment = KafkaPartitionAssignor.range.assign(
            members: [member("a", ["x", "y"]), member("b", ["y"]), member("c", ["x", "y", "z"])],
            partitionCounts: ["x": 2, "y": 4, "z": 2]
        )
        #expect(
            assignment == [
                "a": ["x": [0], "y": [0, 1]],
                "b": ["y": [2]],
                "c": ["x": [1], "y": [3], "z": [0, 1]],
            ])
    }

    @Test func rangeWithMoreMembersThanPartitions() {
        let assignment = KafkaPartitionAssignor.range.assign(
            members: [member("m1", ["t"]), member("m2", ["t"]), member("m3", ["t"])],
            partitionCounts: ["t": 2]
        )
        #expect(assignment == ["m1": ["t": [0]], "m2": ["t": [1]], "m3": [:]])
    }

    @Test func rangeOrdersStaticMembersByInstanceId() {
        // RangeAssignor's Javadoc: after a restart C0 became C3 and C1 became C2; their instance ids keep them
        // where they were. Without instance ids C2 would sort first and take C3's partitions.
        let assignment = KafkaPartitionAssignor.range.assign(
            members: [member("C3", instance: "I0", ["t0", "t1"]), member("C2", instance: "I1", ["t0", "t1"])],
            partitionCounts: ["t0": 3, "t1": 3]
        )
        #expect(assignment == ["C3": ["t0": [0, 1], "t1": [0, 1]], "C2": ["t0": [2], "t1": [2]]])
    }

    @Test func staticMembersSortBeforeDynamicOnes() {
        let members = [member("a", ["t"]), member("b", ["t"]), member("z", instance: "x", ["t"])]
        let range = KafkaPartitionAssignor.range.assign(members: members, partitionCounts: ["t": 3])
        #expect(range == ["z": ["t": [0]], "a": ["t": [1]], "b": ["t": [2]]])
        let roundRobin = KafkaPartitionAssignor.roundRobin.assign(members: members, partitionCounts: ["t": 3])
        #expect(roundRobin == range)
    }

    @Test func memberIdsSortAsJavaStringsDo() {
        // Java compares UTF-16 code units: U+1F600 (0xD83D 0xDE00) sorts before U+FF61. Swift's `<` compares
        // scalars and says the opposite, which would make this client's leader disagree with Java's.
        let emoji = "\u{1F600}"
        let halfwidthStop = "\u{FF61}"
        #expect(halfwidthStop < emoji)
        let assignment = KafkaPartitionAssignor.range.assign(
            members: [member(halfwidthStop, ["t"]), member(emoji, ["t"])],
            partitionCounts: ["t": 2]
        )
        #expect(assignment == [emoji: ["t": [0]], halfwidthStop: ["t": [1]]])
    }

    @Test func topicsWithoutMetadataAreSkippedAndEveryMemberIsListed() {
        let assignment = KafkaPartitionAssignor.range.assign(
            members: [member("a", ["known", "unknown"]), member("b", ["unknown"]), member("c", ["empty"])],
            partitionCounts: ["known": 2, "empty": 0]
        )
        #expect(assignment == ["a": ["known": [0, 1]], "b": [:], "c": [:]])
    }

    @Test(arguments: [KafkaPartitionAssignor.range, .roundRobin])
    func aTopicListedTwiceCountsOnce(assignor: KafkaPartitionAssignor) {
        let assignment = assignor.assign(
            members: [member("a", ["t", "t"]), member("b", ["t"])],
            partitionCounts: ["t": 4]
        )
        let expected: [String: [String: [Int32]]] =
            assignor == .range
            ? ["a": ["t": [0, 1]], "b": ["t": [2, 3]]]
            : ["a": ["t": [0, 2]], "b": ["t": [1, 3]]]
        #expect(assignment == expected)
    }

    @Test(arguments: [KafkaPartitionAssignor.range, .roundRobin])
    func noMembersNoAssignment(assignor: KafkaPartitionAssignor) {
        #expect(assignor.assign(members: [], partitionCounts: ["t": 3]).isEmpty)
    }

    // MARK: Round robin

    @Test func roundRobinDealsPartitionsInTurn() {
        // RoundRobinAssignor's Javadoc example.
        let assignment = KafkaPartitionAssignor.roundRobin.assign(
            members: [member("C1", ["t0", "t1"]), member("C0", ["t0", "t1"])],
            partitionCounts: ["t0": 3, "t1": 3]
        )
        #expect(assignment == ["C0": ["t0": [0, 2], "t1": [1]], "C1": ["t0": [1], "t1": [0, 2]]])
    }

    @Test func roundRobinSkipsMembersNotSubscribed() {
        // RoundRobinAssignor's Javadoc example of unequal subscriptions.
        let assignment = KafkaPartitionAssignor.roundRobin.assign(
            members: [member("C0", ["t0"]), member("C1", ["t0", "t1"]), member("C2", ["t0", "t1", "t2"])],
            partitionCounts: ["t0": 1, "t1": 2, "t2": 3]
        )
        #expect(assignment == ["C0": ["t0": [0]], "C1": ["t1": [0]], "C2": ["t1": [1], "t2": [0, 1, 2]]])
    }

    @Test func roundRobinWithUnequalSubscriptions() {
        // x0→a, x1→c (b skipped), y0→a, y1→b, y2→c, y3→a, z0→c (a, b skipped), z1→c (a, b skipped).
        let assignment = KafkaPartitionAssignor.roundRobin.assign(
            members: [member("c", ["z", "y", "x"]), member("b", ["y"]), member("a", ["y", "x"])],
            partitionCounts: ["x": 2, "y": 4, "z": 2]
        )
        #expect(
            assignment == [
                "a": ["x": [0], "y": [0, 3]],
                "b": ["y": [1]],
                "c": ["x": [1], "y": [2], "z": [0, 1]],
            ])
    }

    @Test func roundRobinWithMoreMembersThanPartitions() {
        // t0p0→m1, t1p0→m2, t1p1→m3.
        let assignment = KafkaPartitionAssignor.roundRobin.assign(
            members: [
                member("m4", ["t0", "t1"]), member("m3", ["t0", "t1"]),
                member("m2", ["t0", "t1"]), member("m1", ["t0", "t1"]),
            ],
            partitionCounts: ["t0": 1, "t1": 2]
        )
        #expect(assignment == ["m1": ["t0": [0]], "m2": ["t1": [0]], "m3": ["t1": [1]], "m4": [:]])
    }

    @Test func roundRobinOrdersStaticMembersByInstanceId() {
        // RoundRobinAssignor's Javadoc: members C5, C3, C4 with instance ids I0, I1, I2 keep the order I0, I1, I2.
        let assignment = KafkaPartitionAssignor.roundRobin.assign(
            members: [
                member("C3", instance: "I1", ["t0", "t1"]),
                member("C4", instance: "I2", ["t0", "t1"]),
                member("C5", instance: "I0", ["t0", "t1"]),
            ],
            partitionCounts: ["t0": 3, "t1": 3]
        )
        #expect(
            assignment == [
                "C5": ["t0": [0], "t1": [0]],
                "C3": ["t0": [1], "t1": [1]],
                "C4": ["t0": [2], "t1": [2]],
            ])
    }
}
