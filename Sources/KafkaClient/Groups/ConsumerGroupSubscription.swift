/// What a group member subscribes to: named topics, or every topic whose name a pattern matches.
enum ConsumerGroupSubscription: Sendable, CustomStringConvertible {
    /// These topics, whether or not they exist yet (partitions of missing topics are assigned once they exist).
    case topics([String])
    /// Every topic of the cluster whose name `matches` accepts, looked up again every topic refresh interval.
    /// Internal topics (`__consumer_offsets`, ...) never match.
    case pattern(description: String, matches: @Sendable (String) -> Bool)

    /// The subscribed topics among `allTopics` (sorted, without duplicates); the named topics themselves for
    /// `.topics`.
    func topics(among allTopics: [String]) -> [String] {
        switch self {
        case .topics(let names):
            return Set(names).sorted()
        case .pattern(_, let matches):
            return Set(allTopics.filter { !$0.hasPrefix("__") && matches($0) }).sorted()
        }
    }

    var isPattern: Bool {
        if case .pattern = self { return true }
        return false
    }

    var description: String {
        switch self {
        case .topics(let names): "topics \(names.sorted())"
        case .pattern(let description, _): "pattern \(description)"
        }
    }
}
