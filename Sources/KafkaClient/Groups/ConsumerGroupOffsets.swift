import KafkaWire

/// OffsetCommit and OffsetFetch for a consumer group, built and read for whichever version was negotiated.
///
/// Requests carry the fields of every version (the writer keeps those of the version it writes): OffsetFetch v8+
/// batches groups in `groups[]` where older versions have a top-level `groupId` and `topics`; OffsetCommit v1+
/// carries the generation and member id.
enum ConsumerGroupOffsets {
    /// The OffsetCommit request for `offsets` in a generation.
    static func commitRequest(
        groupID: String,
        generationID: Int32,
        memberID: String,
        groupInstanceID: String?,
        offsets: [KafkaTopicPartition: Int64]
    ) -> KafkaOffsetCommitRequest {
        let byTopic = Dictionary(grouping: offsets.keys, by: \.topic)
        let topics = byTopic.keys.sorted().map { topic in
            KafkaOffsetCommitRequest.OffsetCommitRequestTopic(
                name: topic,
                partitions: byTopic[topic]!.sorted().map {
                    KafkaOffsetCommitRequest.OffsetCommitRequestPartition(
                        partitionIndex: $0.partition,
                        committedOffset: offsets[$0]!
                    )
                }
            )
        }
        return KafkaOffsetCommitRequest(
            groupId: groupID,
            generationIdOrMemberEpoch: generationID,
            memberId: memberID,
            groupInstanceId: groupInstanceID,
            topics: topics
        )
    }

    /// Throws the first partition error of an OffsetCommit answer, named by its Kafka error code.
    static func checkCommit(_ response: KafkaOffsetCommitResponse, groupID: String) throws(KafkaError) {
        for topic in response.topics {
            for partition in topic.partitions where partition.errorCode != 0 {
                throw KafkaError.broker(
                    KafkaErrorCode(rawValue: partition.errorCode),
                    "OffsetCommit for group '\(groupID)', partition \(topic.name)-\(partition.partitionIndex)"
                )
            }
        }
    }

    /// The OffsetFetch request for `partitions`. `requireStable` (v7+) makes the coordinator answer
    /// UNSTABLE_OFFSET_COMMIT rather than an offset a pending transaction may still change.
    static func fetchRequest(
        groupID: String,
        partitions: [KafkaTopicPartition],
        requireStable: Bool = true
    ) -> KafkaOffsetFetchRequest {
        let byTopic = Dictionary(grouping: partitions, by: \.topic)
        let names = byTopic.keys.sorted()
        return KafkaOffsetFetchRequest(
            groupId: groupID,
            topics: names.map {
                KafkaOffsetFetchRequest.OffsetFetchRequestTopic(
                    name: $0,
                    partitionIndexes: byTopic[$0]!.map(\.partition).sorted()
                )
            },
            groups: [
                KafkaOffsetFetchRequest.OffsetFetchRequestGroup(
                    groupId: groupID,
                    topics: names.map {
                        KafkaOffsetFetchRequest.OffsetFetchRequestTopics(
                            name: $0,
                            partitionIndexes: byTopic[$0]!.map(\.partition).sorted()
                        )
                    }
                )
            ],
            requireStable: requireStable
        )
    }

    /// The committed offsets in an OffsetFetch answer read at `version`; a partition with nothing committed
    /// (offset -1) is left out. Throws the group's error, or the first partition's.
    static func fetchedOffsets(
        _ response: KafkaOffsetFetchResponse,
        version: Int16,
        groupID: String
    ) throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        var rows: [(topic: String, partition: Int32, offset: Int64, errorCode: Int16)] = []
        if version >= 8 {
            guard let group = response.groups.first(where: { $0.groupId == groupID }) ?? response.groups.first else {
                throw KafkaError(.protocolViolation, "OffsetFetch v\(version) answered without group '\(groupID)'")
            }
            try check(group.errorCode, groupID: groupID)
            for topic in group.topics {
                for partition in topic.partitions {
                    rows.append((topic.name, partition.partitionIndex, partition.committedOffset, partition.errorCode))
                }
            }
        } else {
            // The top-level error code exists from v2 on; it is 0 in older answers.
            try check(response.errorCode, groupID: groupID)
            for topic in response.topics {
                for partition in topic.partitions {
                    rows.append((topic.name, partition.partitionIndex, partition.committedOffset, partition.errorCode))
                }
            }
        }
        var offsets: [KafkaTopicPartition: Int64] = [:]
        for row in rows {
            let partition = KafkaTopicPartition(topic: row.topic, partition: row.partition)
            if row.errorCode != 0 {
                throw KafkaError.broker(
                    KafkaErrorCode(rawValue: row.errorCode),
                    "OffsetFetch for group '\(groupID)', partition \(partition)"
                )
            }
            if row.offset >= 0 { offsets[partition] = row.offset }
        }
        return offsets
    }

    private static func check(_ errorCode: Int16, groupID: String) throws(KafkaError) {
        guard errorCode != 0 else { return }
        throw KafkaError.broker(KafkaErrorCode(rawValue: errorCode), "OffsetFetch for group '\(groupID)'")
    }
}
