/// A consumer-group partition assignment strategy: what the group leader runs over all members' subscriptions.
///
/// The ``name`` is the protocol name sent in JoinGroup. The Java client and librdkafka use the same names, so a
/// group mixing this client with them agrees on a protocol, and whichever member leads computes the same
/// assignment.
public struct KafkaPartitionAssignor: Sendable, Hashable, CustomStringConvertible {
    enum Kind: Hashable {
        case range
        case roundRobin
    }

    let kind: Kind

    /// Java's `RangeAssignor` (`"range"`), the Java consumer's default: per topic, contiguous ranges of
    /// partitions to the members subscribed to it, the first members one more when the count does not divide.
    /// Topics with the same partition count and subscribers are co-partitioned (partition n of each topic goes to
    /// the same member).
    public static let range = KafkaPartitionAssignor(kind: .range)

    /// Java's `RoundRobinAssignor` (`"roundrobin"`): all partitions of all subscribed topics dealt out in turn,
    /// skipping members not subscribed to a partition's topic.
    public static let roundRobin = KafkaPartitionAssignor(kind: .roundRobin)

    /// The protocol name sent in JoinGroup.
    public var name: String {
        switch kind {
        case .range: "range"
        case .roundRobin: "roundrobin"
        }
    }

    public var description: String { name }

    /// The assignor with protocol name `name`, or `nil` for a strategy this client does not implement.
    public init?(name: String) {
        switch name {
        case "range": self = .range
        case "roundrobin": self = .roundRobin
        default: return nil
        }
    }

    private init(kind: Kind) {
        self.kind = kind
    }

    /// Assigns the partitions of the subscribed topics to the members.
    ///
    /// - Parameters:
    ///   - members: Every member's subscription. Member ids are unique (the coordinator guarantees it); should
    ///     one repeat, only its first subscription counts.
    ///   - partitionCounts: Partition count by topic, from metadata. Subscribed topics missing here (or with no
    ///     partitions) are skipped, as Java skips topics its metadata does not know.
    /// - Returns: For every member, even one that gets nothing, its partitions by topic in ascending order. A
    ///   topic appears in a member's map only when the member gets at least one of its partitions.
    public func assign(
        members: [KafkaGroupMemberSubscription],
        partitionCounts: [String: Int32]
    ) -> [String: [String: [Int32]]] {
        var seen = Set<String>()
        let members = members.filter { seen.insert($0.memberId).inserted }
        switch kind {
        case .range:
            return KafkaRangeAssignor.assign(members: members, partitionCounts: partitionCounts)
        case .roundRobin:
            return KafkaRoundRobinAssignor.assign(members: members, partitionCounts: partitionCounts)
        }
    }
}
