import Synchronization

/// The embedded log shared by every API of one gateway: topics by name, created on first use.
///
/// Topics outlive deployments, so redeploying an API keeps its messages and its consumers' cursors valid.
/// Single node only: several gateways each have their own.
public final class InMemoryBroker: Sendable {
    private let topics = Mutex<[String: InMemoryTopic]>([:])

    public init() {}

    /// The topic named `name`, created with `retention` if it does not exist; an existing topic takes the
    /// new retention (the most recent deployment's).
    public func topic(named name: String, retention: InMemoryRetention) -> InMemoryTopic {
        let (topic, created) = topics.withLock { topics -> (InMemoryTopic, Bool) in
            if let existing = topics[name] { return (existing, false) }
            let topic = InMemoryTopic(name: name, retention: retention)
            topics[name] = topic
            return (topic, true)
        }
        if !created { topic.updateRetention(retention) }
        return topic
    }

    public var topicNames: [String] { topics.withLock { Array($0.keys).sorted() } }
}
