import NIOCore

/// How a consumer takes part in a consumer group (the classic protocol, eager rebalancing).
///
/// The defaults are those of the Java consumer, except `topicRefreshInterval` (Java re-reads topics with its
/// 5-minute `metadata.max.age.ms`; a gateway wants new topics of a pattern sooner).
public struct KafkaConsumerGroupConfiguration: Sendable {
    /// The group (`group.id`).
    public var groupID: String
    /// A stable member identity for static membership (`group.instance.id`, KIP-345): a restarted member takes its
    /// place back without a rebalance, and does not leave the group when it closes. Default: none (dynamic).
    public var groupInstanceID: String?
    /// The coordinator removes a member it has not heard from for this long. Default: 45 s.
    public var sessionTimeout: TimeAmount = .seconds(45)
    /// How often the member heartbeats; well below `sessionTimeout`. Default: 3 s.
    public var heartbeatInterval: TimeAmount = .seconds(3)
    /// How long the coordinator waits for every member to rejoin during a rebalance (Java's
    /// `max.poll.interval.ms`). Default: 60 s.
    public var rebalanceTimeout: TimeAmount = .seconds(60)
    /// The assignment strategies offered in JoinGroup, preferred first; the coordinator picks one every member
    /// supports. Default: `[.range, .roundRobin]`.
    public var assignors: [KafkaPartitionAssignor] = [.range, .roundRobin]
    /// Commits the consumed positions this often while the member is stable, before its partitions are revoked,
    /// and when it closes; `nil` turns automatic commits off. Default: 5 s.
    public var autoCommitInterval: TimeAmount? = .seconds(5)
    /// How often the topics of the subscription are looked up again: a pattern's matches, and (for the leader)
    /// partition counts. A change makes the group rebalance. Default: 30 s.
    public var topicRefreshInterval: TimeAmount = .seconds(30)
    /// The first wait before retrying after a retriable failure (coordinator moved or unavailable); it doubles on
    /// each further failure up to `retryBackoffMax`. Default: 100 ms.
    public var retryBackoff: TimeAmount = .milliseconds(100)
    /// Default: 1 s.
    public var retryBackoffMax: TimeAmount = .seconds(1)

    public init(groupID: String) {
        self.groupID = groupID
    }

    /// Throws `invalidConfiguration` for settings the coordinator would refuse or that cannot work.
    func validate() throws(KafkaError) {
        guard !groupID.isEmpty else {
            throw KafkaError(.invalidConfiguration, "the group id is empty")
        }
        guard !assignors.isEmpty else {
            throw KafkaError(.invalidConfiguration, "group '\(groupID)': no partition assignor")
        }
        guard heartbeatInterval > .zero, heartbeatInterval < sessionTimeout else {
            throw KafkaError(
                .invalidConfiguration,
                "group '\(groupID)': the heartbeat interval must be positive and below the session timeout"
            )
        }
        guard rebalanceTimeout > .zero, topicRefreshInterval > .zero, retryBackoff > .zero else {
            throw KafkaError(
                .invalidConfiguration,
                "group '\(groupID)': the rebalance timeout, topic refresh interval and retry backoff must be positive"
            )
        }
        if let autoCommitInterval, autoCommitInterval <= .zero {
            throw KafkaError(.invalidConfiguration, "group '\(groupID)': the auto-commit interval must be positive")
        }
    }
}
