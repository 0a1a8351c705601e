/// Java's `RoundRobinAssignor`.
enum KafkaRoundRobinAssignor {
    static func assign(
        members: [KafkaGroupMemberSubscription],
        partitionCounts: [String: Int32]
    ) -> [String: [String: [Int32]]] {
        var assignment = [String: [String: [Int32]]](uniqueKeysWithValues: members.map { ($0.memberId, [:]) })
        let sorted = members.sorted(by: KafkaGroupMemberSubscription.javaMemberOrder)
        let subscriptions = sorted.map { Set($0.topics) }

        // All partitions of all subscribed topics, by topic name (Java's TreeSet order), then partition.
        let topics = Set(members.flatMap(\.topics)).sorted(by: javaStringOrder)

        // Java's CircularIterator: `next` is the member the next partition goes to, unless it is not subscribed
        // to the partition's topic; then it moves on. Every topic here has a subscriber, so the search ends.
        var next = 0
        for topic in topics {
            guard let partitionCount = partitionCounts[topic], partitionCount > 0 else { continue }
            for partition in 0..<partitionCount {
                while !subscriptions[next].contains(topic) {
                    next = (next + 1) % sorted.count
                }
                assignment[sorted[next].memberId, default: [:]][topic, default: []].append(partition)
                next = (next + 1) % sorted.count
            }
        }
        return assignment
    }
}
