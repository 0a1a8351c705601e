import KafkaWire

/// What consumer-group membership needs from the consumer it serves: to be told when partitions go and come,
/// and which offsets to commit.
///
/// The group coordinator calls these from its own task; the consumer stops fetching revoked partitions before
/// `partitionsRevoked` returns, so nothing of theirs is handed out after the group moved them.
protocol ConsumerGroupMember: Sendable {
    /// The member loses these partitions (eager rebalancing: all of them, before rejoining).
    func partitionsRevoked(_ partitions: [KafkaTopicPartition]) async
    /// The member now owns these partitions, to start at these offsets (the committed offset, or nil where the
    /// group has none and the consumer's reset policy decides).
    func partitionsAssigned(_ partitions: [KafkaTopicPartition: Int64?]) async
    /// The positions consumed so far: for each owned partition, the offset of the next record to hand out.
    func consumedPositions() -> [KafkaTopicPartition: Int64]
}
