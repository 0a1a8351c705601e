import KafkaWire

/// Where to start reading a partition.
public enum KafkaOffsetSpec: Hashable, Sendable {
    /// The oldest record still in the log.
    case earliest
    /// The end of the log: only records produced from now on.
    case latest
    /// This exact offset.
    case exact(Int64)
    /// The first record whose timestamp is at or after this time (milliseconds since the epoch); the end of the
    /// log when there is none.
    case timestamp(Int64)

    /// The ListOffsets timestamp this spec asks for, nil for an exact offset.
    var listOffsetsTimestamp: Int64? {
        switch self {
        case .earliest: -2
        case .latest: -1
        case .exact: nil
        case .timestamp(let time): time
        }
    }
}

/// An offset found by ListOffsets.
public struct KafkaListedOffset: Hashable, Sendable {
    public var offset: Int64
    /// The timestamp of the record found, -1 for earliest/latest.
    public var timestamp: Int64
}

extension KafkaCluster {
    /// Looks up offsets by spec, asking each partition's leader. An exact spec is returned as it is.
    public func listOffsets(
        _ specs: [KafkaTopicPartition: KafkaOffsetSpec],
        isolationLevel: KafkaIsolationLevel = .readUncommitted
    ) async throws(KafkaError) -> [KafkaTopicPartition: KafkaListedOffset] {
        var result: [KafkaTopicPartition: KafkaListedOffset] = [:]
        var byLeader: [Int32: [(KafkaTopicPartition, Int64)]] = [:]
        _ = try await metadata(for: Array(Set(specs.keys.map(\.topic))))
        for (partition, spec) in specs {
            guard let time = spec.listOffsetsTimestamp else {
                if case .exact(let offset) = spec {
                    result[partition] = KafkaListedOffset(offset: offset, timestamp: -1)
                }
                continue
            }
            guard let leader = leader(for: partition) else {
                throw KafkaError.broker(.leaderNotAvailable, "no leader for \(partition)")
            }
            byLeader[leader, default: []].append((partition, time))
        }
        for (leader, entries) in byLeader {
            let connection = try await connection(toNode: leader)
            var topics: [String: [KafkaListOffsetsRequest.ListOffsetsPartition]] = [:]
            for (partition, time) in entries {
                topics[partition.topic, default: []].append(
                    .init(
                        partitionIndex: partition.partition, currentLeaderEpoch: -1, timestamp: time, maxNumOffsets: 1)
                )
            }
            let request = KafkaListOffsetsRequest(
                replicaId: -1,
                isolationLevel: isolationLevel.rawValue,
                topics: topics.map { .init(name: $0.key, partitions: $0.value) }
            )
            let response = try await connection.send(request)
            for topic in response.topics {
                for partition in topic.partitions {
                    let key = KafkaTopicPartition(topic: topic.name, partition: partition.partitionIndex)
                    let code = KafkaErrorCode(rawValue: partition.errorCode)
                    guard code == .none else {
                        if code.isRetriable { invalidateMetadata() }
                        throw KafkaError.broker(code, "ListOffsets for \(key)")
                    }
                    // Version 0 answers with a list of offsets instead of one.
                    let offset = partition.oldStyleOffsets.first ?? partition.offset
                    result[key] = KafkaListedOffset(offset: offset, timestamp: partition.timestamp)
                }
            }
        }
        return result
    }
}
