public import SluiceCore
public import SluiceGateway

/// One API's line in `sluice top`: its rates between two snapshots and its numbers now.
public struct StatusRow: Sendable, Hashable {
    public var id: String
    public var name: String
    public var state: String
    public var deployed: Bool
    /// Per second over the interval between the two snapshots; nil without live numbers, for the first snapshot, or
    /// when a counter went back (the gateway restarted).
    public var requestsPerSecond: Double?
    public var messagesInPerSecond: Double?
    public var messagesOutPerSecond: Double?
    /// 5xx answers and publishes the endpoint refused, per second.
    public var errorsPerSecond: Double?
    public var openConnections: Int64?
    public var endpoints: [StatusSnapshot.Endpoint]
    public var counters: StatusCounters?

    /// The endpoints as `type:state` (`kafka:connected`), or the types alone when no gateway serves the API.
    public var endpointSummary: String {
        endpoints.map { endpoint in endpoint.state.map { "\(endpoint.type):\($0)" } ?? endpoint.type }
            .joined(separator: " ")
    }
}

/// Rates from two snapshots: what `sluice top` and the status page show. Counters are cumulative, so a rate is the
/// difference of a counter over the difference of the snapshots' timestamps.
public enum StatusRates {
    public static func rows(previous: StatusSnapshot?, current: StatusSnapshot) -> [StatusRow] {
        let seconds = previous.map { Double(current.timestampMs - $0.timestampMs) / 1000 } ?? 0
        let before = Dictionary(
            (previous?.apis ?? []).map { ($0.id, $0.counters) }, uniquingKeysWith: { first, _ in first })
        return current.apis.map { api in
            let then = before[api.id] ?? nil
            func rate(_ value: (StatusCounters) -> Int64) -> Double? {
                guard seconds > 0, let now = api.counters, let then else { return nil }
                let delta = value(now) - value(then)
                return delta < 0 ? nil : Double(delta) / seconds
            }
            let serverErrors = rate(\.serverErrors)
            let messageErrors = rate(\.messageErrors)
            return StatusRow(
                id: api.id, name: api.name, state: api.state, deployed: api.deployed,
                requestsPerSecond: rate(\.requests), messagesInPerSecond: rate(\.messagesIn),
                messagesOutPerSecond: rate(\.messagesOut),
                errorsPerSecond: serverErrors.flatMap { server in messageErrors.map { server + $0 } },
                openConnections: api.openConnections, endpoints: api.endpoints, counters: api.counters)
        }
    }
}

extension StatusRow {
    /// The row for scripts (`sluice top --output json`): rates, open connections, endpoints and counters.
    public var json: JSONValue {
        func number(_ value: Double?) -> JSONValue {
            guard let value else { return .null }
            return .number((value * 1000).rounded() / 1000)
        }
        return .object(
            JSONObject([
                ("id", .string(id)), ("name", .string(name)), ("state", .string(state)), ("deployed", .bool(deployed)),
                ("requestsPerSecond", number(requestsPerSecond)),
                ("messagesInPerSecond", number(messagesInPerSecond)),
                ("messagesOutPerSecond", number(messagesOutPerSecond)), ("errorsPerSecond", number(errorsPerSecond)),
                ("openConnections", openConnections.map { .number(Double($0)) } ?? .null),
                ("endpoints", .array(endpoints.map(\.json))),
                ("counters", counters?.json ?? .null),
            ]))
    }
}
