import SluiceCore
import Synchronization

/// Several endpoints of one group behind one connector, each call going to the member the group's load
/// balancer picks.
final class EndpointGroupConnector: EndpointConnector {
    let members: [(connector: any EndpointConnector, weight: Int)]
    let loadBalancer: APIDefinition.LoadBalancer
    private let counter = Atomic<Int>(0)

    init(members: [(connector: any EndpointConnector, weight: Int)], loadBalancer: APIDefinition.LoadBalancer) {
        precondition(!members.isEmpty)
        self.members = members
        self.loadBalancer = loadBalancer
    }

    var type: String { members[0].connector.type }
    var canPublish: Bool { members.contains { $0.connector.canPublish } }
    var canSubscribe: Bool { members.contains { $0.connector.canSubscribe } }

    func pick() -> any EndpointConnector {
        let totalWeight = members.reduce(0) { $0 + $1.weight }
        switch loadBalancer {
        case .roundRobin:
            let n = counter.add(1, ordering: .relaxed).oldValue
            return members[n % members.count].connector
        case .random:
            return members.randomElement()!.connector
        case .weightedRoundRobin:
            var slot = counter.add(1, ordering: .relaxed).oldValue % totalWeight
            for member in members {
                if slot < member.weight { return member.connector }
                slot -= member.weight
            }
            return members[0].connector
        case .weightedRandom:
            var slot = Int.random(in: 0..<totalWeight)
            for member in members {
                if slot < member.weight { return member.connector }
                slot -= member.weight
            }
            return members[0].connector
        }
    }

    func publish(_ message: Message) async throws -> Message {
        try await pick().publish(message)
    }

    func subscribe(_ request: SubscriptionRequest) async throws -> any MessageSource {
        try await pick().subscribe(request)
    }

    func stop() async {
        for member in members { await member.connector.stop() }
    }
}
