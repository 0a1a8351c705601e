import KafkaWire

extension KafkaCluster {
    /// The offsets a consumer group has committed for `partitions`, read without joining the group; partitions
    /// with nothing committed are left out.
    public func committedOffsets(
        group groupID: String,
        partitions: [KafkaTopicPartition]
    ) async throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        guard !partitions.isEmpty else { return [:] }
        return try await withCoordinator(of: groupID) { connection throws(KafkaError) in
            let version = try connection.version(for: KafkaOffsetFetchRequest.self)
            let request = ConsumerGroupOffsets.fetchRequest(groupID: groupID, partitions: partitions)
            let response = try await connection.send(request, version: version)
            return try ConsumerGroupOffsets.fetchedOffsets(response, version: version, groupID: groupID)
        }
    }

    /// Commits `offsets` (the next offset to read, per partition) for a consumer group without joining it, the way
    /// Kafka's clients commit for a consumer that assigns its partitions itself (generation -1, no member id).
    ///
    /// A coordinator refuses this while the group has members (UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION): a group's
    /// members own its offsets.
    public func commitOffsets(
        group groupID: String,
        offsets: [KafkaTopicPartition: Int64]
    ) async throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        try await withCoordinator(of: groupID) { connection throws(KafkaError) in
            let request = ConsumerGroupOffsets.commitRequest(
                groupID: groupID, generationID: -1, memberID: "", groupInstanceID: nil, offsets: offsets)
            let response = try await connection.send(request)
            try ConsumerGroupOffsets.checkCommit(response, groupID: groupID)
        }
    }

    /// Runs `body` against the group's coordinator, looking the coordinator up again (a few times) when it moved or
    /// is not available yet.
    private func withCoordinator<Result: Sendable>(
        of groupID: String,
        _ body: (KafkaConnection) async throws(KafkaError) -> Result
    ) async throws(KafkaError) -> Result {
        var attempt = 0
        while true {
            do throws(KafkaError) {
                let connection = try await groupCoordinator(for: groupID, refresh: attempt > 0)
                return try await body(connection)
            } catch {
                attempt += 1
                switch error.code {
                case .broker(.notCoordinator), .broker(.coordinatorNotAvailable), .broker(.coordinatorLoadInProgress):
                    guard attempt < 4 else { throw error }
                    invalidateCoordinator(for: groupID)
                    try? await Task.sleep(nanoseconds: UInt64(configuration.reconnectBackoff.nanoseconds << attempt))
                default:
                    throw error
                }
            }
        }
    }
}
