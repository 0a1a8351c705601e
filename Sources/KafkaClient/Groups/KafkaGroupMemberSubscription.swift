/// What one consumer-group member asked for in JoinGroup, as the group leader sees it when it assigns partitions.
public struct KafkaGroupMemberSubscription: Sendable, Hashable {
    /// The member id the coordinator gave the member; unique in the group.
    public var memberId: String
    /// The member's `group.instance.id` for static membership (KIP-345), `nil` for a dynamic member.
    public var groupInstanceId: String?
    /// The topics the member subscribes to.
    public var topics: [String]
    /// The partitions the member owned before this rebalance, by topic (ConsumerProtocolSubscription v1+).
    /// The range and round-robin assignors ignore them, as Java's do; sticky assignors need them.
    public var ownedPartitions: [String: [Int32]]

    public init(
        memberId: String,
        groupInstanceId: String? = nil,
        topics: [String],
        ownedPartitions: [String: [Int32]] = [:]
    ) {
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.topics = topics
        self.ownedPartitions = ownedPartitions
    }
}

extension KafkaGroupMemberSubscription {
    /// The order Java's assignors sort members in (`AbstractPartitionAssignor.MemberInfo.compareTo`): static
    /// members first, by `group.instance.id`, then dynamic members by member id. Static members thereby keep their
    /// partitions across restarts even though the coordinator hands them new member ids.
    static func javaMemberOrder(_ lhs: Self, _ rhs: Self) -> Bool {
        switch (lhs.groupInstanceId, rhs.groupInstanceId) {
        case (let left?, let right?):
            // Equal instance ids cannot happen in a healthy group; the member id keeps the order total anyway.
            if left != right { return javaStringOrder(left, right) }
            return javaStringOrder(lhs.memberId, rhs.memberId)
        case (.some, nil):
            return true
        case (nil, .some):
            return false
        case (nil, nil):
            return javaStringOrder(lhs.memberId, rhs.memberId)
        }
    }
}

/// Java's `String.compareTo`: lexicographic over UTF-16 code units. Swift's `<` on `String` compares Unicode
/// scalars after canonical equivalence, which orders some non-ASCII ids differently, and every member of a group
/// must sort ids the way the Java leader would.
func javaStringOrder(_ lhs: String, _ rhs: String) -> Bool {
    lhs.utf16.lexicographicallyPrecedes(rhs.utf16)
}
