import KafkaWire
import NIOCore

/// A consumer group as DescribeGroups reports it.
public struct KafkaGroupDescription: Hashable, Sendable {
    public struct Member: Hashable, Sendable {
        public var memberID: String
        public var groupInstanceID: String?
        public var clientID: String
        public var clientHost: String
        /// The partitions the member owns, decoded from its consumer-protocol assignment.
        public var assignment: [KafkaTopicPartition]
    }

    public var groupID: String
    /// `Stable`, `PreparingRebalance`, `CompletingRebalance`, `Empty` or `Dead`.
    public var state: String
    public var protocolType: String
    /// The assignor the group uses.
    public var protocolName: String
    public var members: [Member]
}

extension KafkaCluster {
    /// Creates topics; one that already exists is left as it is when `ignoreExisting` (the default).
    public func createTopics(
        _ topics: [(name: String, partitions: Int32)],
        replicationFactor: Int16 = -1,
        configs: [String: String] = [:],
        ignoreExisting: Bool = true
    ) async throws(KafkaError) {
        let connection = try await anyConnection()
        let version = try connection.version(for: KafkaCreateTopicsRequest.self)
        // Version 4 and later let the broker pick the replication factor (-1); before, it must be given.
        let factor: Int16 = replicationFactor < 0 && version < 4 ? 1 : replicationFactor
        let request = KafkaCreateTopicsRequest(
            topics: topics.map { topic in
                .init(
                    name: topic.name,
                    numPartitions: topic.partitions,
                    replicationFactor: factor,
                    configs: configs.map { .init(name: $0.key, value: $0.value) }
                )
            },
            timeoutMs: Int32(configuration.timeouts.request.nanoseconds / 1_000_000)
        )
        let response = try await connection.send(request, version: version)
        for result in response.topics {
            let code = KafkaErrorCode(rawValue: result.errorCode)
            if code == .none || (ignoreExisting && code == .topicAlreadyExists) { continue }
            throw KafkaError.broker(code, "create topic '\(result.name)': \(result.errorMessage ?? code.name)")
        }
        invalidateMetadata()
    }

    /// Deletes topics by name; a topic that does not exist is ignored.
    public func deleteTopics(_ names: [String]) async throws(KafkaError) {
        let connection = try await anyConnection()
        let version = try connection.version(for: KafkaDeleteTopicsRequest.self)
        let request = KafkaDeleteTopicsRequest(
            topics: names.map { .init(name: $0, topicId: .zero) },
            topicNames: names,
            timeoutMs: Int32(configuration.timeouts.request.nanoseconds / 1_000_000)
        )
        let response = try await connection.send(request, version: version)
        for result in response.responses {
            let code = KafkaErrorCode(rawValue: result.errorCode)
            if code == .none || code == .unknownTopicOrPartition { continue }
            throw KafkaError.broker(code, "delete topic '\(result.name ?? "?")': \(result.errorMessage ?? code.name)")
        }
        invalidateMetadata()
    }

    /// Describes a consumer group: its state, assignor and members with their partitions.
    public func describeGroup(_ groupID: String) async throws(KafkaError) -> KafkaGroupDescription {
        let connection = try await groupCoordinator(for: groupID)
        let response = try await connection.send(KafkaDescribeGroupsRequest(groups: [groupID]))
        guard let group = response.groups.first(where: { $0.groupId == groupID }) else {
            throw KafkaError(.protocolViolation, "DescribeGroups answered without group '\(groupID)'")
        }
        let code = KafkaErrorCode(rawValue: group.errorCode)
        guard code == .none else { throw KafkaError.broker(code, "describe group '\(groupID)'") }
        return KafkaGroupDescription(
            groupID: group.groupId,
            state: group.groupState,
            protocolType: group.protocolType,
            protocolName: group.protocolData,
            members: group.members.map { member in
                KafkaGroupDescription.Member(
                    memberID: member.memberId,
                    groupInstanceID: member.groupInstanceId,
                    clientID: member.clientId,
                    clientHost: member.clientHost,
                    // Bytes that are not a consumer-protocol assignment show as no partitions.
                    assignment: (try? ConsumerProtocol.decodeAssignment(member.memberAssignment)) ?? []
                )
            }
        )
    }
}
