import KafkaWire
import NIOCore
import Testing

@testable import KafkaClient

/// The consumer embedded protocol (JoinGroup subscription, SyncGroup assignment) and the OffsetCommit and
/// OffsetFetch shapes per version.
@Suite struct ConsumerProtocolTests {
    static func tp(_ topic: String, _ partition: Int32) -> KafkaTopicPartition {
        KafkaTopicPartition(topic: topic, partition: partition)
    }

    // MARK: Subscription and assignment

    @Test func subscriptionIsWrittenAsVersion3WithTheGeneration() throws {
        let metadata = try ConsumerProtocol.subscriptionMetadata(topics: ["ab"], generationID: 5)
        // int16 version 3, [topics] count 1, "ab", user data null, owned partitions count 0, generation 5,
        // rack null.
        let expected: [UInt8] = [
            0, 3, 0, 0, 0, 1, 0, 2, 0x61, 0x62, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 5, 0xFF, 0xFF,
        ]
        #expect(Array(metadata.readableBytesView) == expected)
    }

    @Test func subscriptionsOfEveryVersionAreRead() throws {
        // v0, as older librdkafka writes it: topics and user data only.
        var v0 = ByteBuffer()
        v0.writeInteger(Int16(0))
        try KafkaConsumerProtocolSubscription(topics: ["a", "b"], userData: ByteBuffer(bytes: [1, 2]))
            .write(into: &v0, version: 0)
        let fromV0 = try ConsumerProtocol.decodeSubscription(v0, memberID: "m", groupInstanceID: "i")
        #expect(fromV0 == KafkaGroupMemberSubscription(memberId: "m", groupInstanceId: "i", topics: ["a", "b"]))

        // v3, as Java 3.x writes it: owned partitions, generation and rack.
        var v3 = ByteBuffer()
        v3.writeInteger(Int16(3))
        try KafkaConsumerProtocolSubscription(
            topics: ["a"],
            ownedPartitions: [.init(topic: "a", partitions: [0, 2])],
            generationId: 7,
            rackId: "r1"
        )
        .write(into: &v3, version: 3)
        let fromV3 = try ConsumerProtocol.decodeSubscription(v3, memberID: "m", groupInstanceID: nil)
        #expect(fromV3.topics == ["a"])
        #expect(fromV3.ownedPartitions == ["a": [0, 2]])

        // A version from the future: read as the newest known, its appended fields ignored.
        var v9 = ByteBuffer()
        v9.writeInteger(Int16(9))
        try KafkaConsumerProtocolSubscription(topics: ["z"], rackId: "r").write(into: &v9, version: 3)
        v9.writeBytes([0xDE, 0xAD, 0xBE, 0xEF])
        #expect(try ConsumerProtocol.decodeSubscription(v9, memberID: "m", groupInstanceID: nil).topics == ["z"])
    }

    @Test func malformedSubscriptionsAreProtocolViolations() {
        var negative = ByteBuffer()
        negative.writeInteger(Int16(-1))
        #expect(throws: KafkaError.self) {
            try ConsumerProtocol.decodeSubscription(negative, memberID: "m", groupInstanceID: nil)
        }
        let truncated = ByteBuffer(bytes: [0, 1, 0, 0, 0, 1, 0, 5, 0x61])
        do {
            _ = try ConsumerProtocol.decodeSubscription(truncated, memberID: "m", groupInstanceID: nil)
            Issue.record("a truncated subscription was accepted")
        } catch {
            #expect(error.code == .protocolViolation)
        }
    }

    @Test func assignmentsRoundTripSorted() throws {
        let metadata = try ConsumerProtocol.assignmentMetadata(["b": [1, 0], "a": [3]])
        #expect(metadata.getInteger(at: metadata.readerIndex, as: Int16.self) == 1)
        #expect(try ConsumerProtocol.decodeAssignment(metadata) == [Self.tp("a", 3), Self.tp("b", 0), Self.tp("b", 1)])
        #expect(try ConsumerProtocol.decodeAssignment(ByteBuffer()) == [])

        // v0 from librdkafka, with user data.
        var v0 = ByteBuffer()
        v0.writeInteger(Int16(0))
        try KafkaConsumerProtocolAssignment(
            assignedPartitions: [.init(topic: "t", partitions: [2])],
            userData: ByteBuffer(bytes: [9])
        )
        .write(into: &v0, version: 0)
        #expect(try ConsumerProtocol.decodeAssignment(v0) == [Self.tp("t", 2)])
    }

    // MARK: Offsets

    @Test func offsetCommitCarriesTheGenerationAndMember() throws {
        let request = ConsumerGroupOffsets.commitRequest(
            groupID: "g",
            generationID: 4,
            memberID: "m",
            groupInstanceID: nil,
            offsets: [Self.tp("b", 0): 10, Self.tp("a", 1): 5, Self.tp("a", 0): 7]
        )
        #expect(request.generationIdOrMemberEpoch == 4)
        #expect(request.memberId == "m")
        #expect(request.topics.map(\.name) == ["a", "b"])
        #expect(request.topics[0].partitions.map(\.partitionIndex) == [0, 1])
        #expect(request.topics[0].partitions.map(\.committedOffset) == [7, 5])
        // v1 and v2 layouts both round-trip with the generation.
        for version: Int16 in [1, 2, 7, 9] {
            var buffer = ByteBuffer()
            try request.write(into: &buffer, version: version)
            let read = try KafkaOffsetCommitRequest(from: &buffer, version: version)
            #expect(read.generationIdOrMemberEpoch == 4)
            #expect(read.topics == request.topics)
        }

        let failed = KafkaOffsetCommitResponse(
            topics: [.init(name: "a", partitions: [.init(partitionIndex: 0), .init(partitionIndex: 1, errorCode: 22)])]
        )
        do {
            try ConsumerGroupOffsets.checkCommit(failed, groupID: "g")
            Issue.record("the commit error was not reported")
        } catch {
            #expect(error.name == "ILLEGAL_GENERATION")
        }
    }

    @Test func offsetFetchUsesTopLevelFieldsBeforeVersion8AndGroupsFrom8() throws {
        let request = ConsumerGroupOffsets.fetchRequest(
            groupID: "g",
            partitions: [Self.tp("b", 0), Self.tp("a", 2), Self.tp("a", 1)]
        )
        var v7 = ByteBuffer()
        try request.write(into: &v7, version: 7)
        let read7 = try KafkaOffsetFetchRequest(from: &v7, version: 7)
        #expect(read7.groupId == "g")
        #expect(read7.topics?.map(\.name) == ["a", "b"])
        #expect(read7.topics?.first?.partitionIndexes == [1, 2])
        #expect(read7.requireStable)

        var v8 = ByteBuffer()
        try request.write(into: &v8, version: 8)
        let read8 = try KafkaOffsetFetchRequest(from: &v8, version: 8)
        #expect(read8.groups.map(\.groupId) == ["g"])
        #expect(read8.groups.first?.topics?.map(\.name) == ["a", "b"])
        #expect(read8.groups.first?.topics?.first?.partitionIndexes == [1, 2])
    }

    @Test func fetchedOffsetsLeaveOutPartitionsWithNothingCommitted() throws {
        let v7 = KafkaOffsetFetchResponse(
            topics: [
                .init(
                    name: "a",
                    partitions: [
                        .init(partitionIndex: 0, committedOffset: 12), .init(partitionIndex: 1, committedOffset: -1),
                    ]
                )
            ]
        )
        #expect(try ConsumerGroupOffsets.fetchedOffsets(v7, version: 7, groupID: "g") == [Self.tp("a", 0): 12])

        let v8 = KafkaOffsetFetchResponse(
            groups: [
                .init(
                    groupId: "g",
                    topics: [
                        .init(
                            name: "a",
                            partitions: [
                                .init(partitionIndex: 3, committedOffset: 4),
                                .init(partitionIndex: 0, committedOffset: -1),
                            ]
                        )
                    ]
                )
            ]
        )
        #expect(try ConsumerGroupOffsets.fetchedOffsets(v8, version: 8, groupID: "g") == [Self.tp("a", 3): 4])

        let groupError = KafkaOffsetFetchResponse(groups: [.init(groupId: "g", errorCode: 16)])
        do {
            _ = try ConsumerGroupOffsets.fetchedOffsets(groupError, version: 8, groupID: "g")
            Issue.record("the group error was not reported")
        } catch {
            #expect(error.code == .broker(.notCoordinator))
        }
        let topLevelError = KafkaOffsetFetchResponse(errorCode: 14)
        do {
            _ = try ConsumerGroupOffsets.fetchedOffsets(topLevelError, version: 5, groupID: "g")
            Issue.record("the error was not reported")
        } catch {
            #expect(error.code == .broker(.coordinatorLoadInProgress))
        }
    }

    // MARK: Configuration

    @Test func configurationDefaultsAreJavas() throws {
        let configuration = KafkaConsumerGroupConfiguration(groupID: "g")
        #expect(configuration.sessionTimeout == .seconds(45))
        #expect(configuration.heartbeatInterval == .seconds(3))
        #expect(configuration.rebalanceTimeout == .seconds(60))
        #expect(configuration.assignors == [.range, .roundRobin])
        #expect(configuration.autoCommitInterval == .seconds(5))
        #expect(configuration.topicRefreshInterval == .seconds(30))
        try configuration.validate()

        var invalid = configuration
        invalid.heartbeatInterval = .seconds(60)
        #expect(throws: KafkaError.self) { try invalid.validate() }
        invalid = KafkaConsumerGroupConfiguration(groupID: "")
        #expect(throws: KafkaError.self) { try invalid.validate() }
    }

    @Test func patternSubscriptionsSkipInternalTopics() {
        let subscription = ConsumerGroupSubscription.pattern(description: "orders.*") { $0.hasPrefix("orders") }
        #expect(
            subscription.topics(among: ["orders-b", "payments", "orders-a", "__consumer_offsets"]) == [
                "orders-a", "orders-b",
            ])
        #expect(ConsumerGroupSubscription.topics(["b", "a", "b"]).topics(among: []) == ["a", "b"])
    }
}
