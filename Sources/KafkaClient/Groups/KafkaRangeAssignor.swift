/// Java's `RangeAssignor` without rack awareness.
///
/// Java switches to rack-aware placement (KIP-881) only when members declare `client.rack` and metadata gives
/// replica racks; the subscriptions here carry no racks, and without them Java's result is exactly this one.
enum KafkaRangeAssignor {
    static func assign(
        members: [KafkaGroupMemberSubscription],
        partitionCounts: [String: Int32]
    ) -> [String: [String: [Int32]]] {
        var assignment = [String: [String: [Int32]]](uniqueKeysWithValues: members.map { ($0.memberId, [:]) })

        var subscribersByTopic: [String: [KafkaGroupMemberSubscription]] = [:]
        for member in members {
            for topic in Set(member.topics) {
                subscribersByTopic[topic, default: []].append(member)
            }
        }

        // Topics are independent of each other, so the order they are visited in does not matter.
        for (topic, subscribers) in subscribersByTopic {
            guard let partitionCount = partitionCounts[topic], partitionCount > 0 else { continue }
            let sorted = subscribers.sorted(by: KafkaGroupMemberSubscription.javaMemberOrder)
            let perMember = Int(partitionCount) / sorted.count
            let withExtra = Int(partitionCount) % sorted.count

            for (index, member) in sorted.enumerated() {
                let start = perMember * index + min(index, withExtra)
                let length = perMember + (index < withExtra ? 1 : 0)
                guard length > 0 else { continue }
                assignment[member.memberId, default: [:]][topic] = (start..<start + length).map { Int32($0) }
            }
        }
        return assignment
    }
}
