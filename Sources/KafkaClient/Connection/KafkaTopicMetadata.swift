import KafkaWire

/// What the client knows of one partition: who leads it.
public struct KafkaPartitionMetadata: Hashable, Sendable {
    public var partition: Int32
    /// The node id of the leader, -1 when there is none right now.
    public var leader: Int32
    public var leaderEpoch: Int32
    public var error: KafkaErrorCode

    public init(partition: Int32, leader: Int32, leaderEpoch: Int32, error: KafkaErrorCode = .none) {
        self.partition = partition
        self.leader = leader
        self.leaderEpoch = leaderEpoch
        self.error = error
    }
}

/// What the client knows of one topic.
public struct KafkaTopicMetadata: Hashable, Sendable {
    public var name: String
    public var topicID: KafkaUUID
    public var isInternal: Bool
    /// Sorted by partition index.
    public var partitions: [KafkaPartitionMetadata]

    public init(
        name: String, topicID: KafkaUUID = .zero, isInternal: Bool = false, partitions: [KafkaPartitionMetadata]
    ) {
        self.name = name
        self.topicID = topicID
        self.isInternal = isInternal
        self.partitions = partitions
    }

    public var partitionCount: Int { partitions.count }
}

/// A topic and partition.
public struct KafkaTopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (lhs: KafkaTopicPartition, rhs: KafkaTopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    public var description: String { "\(topic)-\(partition)" }
}
