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

    /// How often waits with a deadline are checked. Default: 50 ms.
    public static let deadlineResolution = Duration.milliseconds(50)

    /// Ends, every ``deadlineResolution``, the reads whose deadline has passed (an SSE stream due a heartbeat, a
    /// GET poll at its time limit), until the calling task is cancelled. One loop serves every reader, so an
    /// idle stream costs no timer or task of its own.
    public func runDeadlines() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: Self.deadlineResolution)
            } catch {
                return
            }
            let now = ContinuousClock.now
            for topic in topics.withLock({ Array($0.values) }) { topic.expireWaits(now: now) }
        }
    }
}
