import Foundation
import SluiceCore
import SluiceGateway
import SluiceStore

extension StatusSnapshot {
    /// The snapshot of the store's APIs with the live numbers of the gateway in this process, when one runs.
    ///
    /// An API the gateway serves shows the definition it deployed, its endpoints' states and its counters; one it
    /// does not serve (stopped, or not picked up yet) shows the store's definition, no states and no numbers. An
    /// API the gateway serves that the store does not hold (yet) is listed too.
    static func merging(
        store apis: [ManagedAPI], live: GatewayLiveStatus?, timestampMs: Int64, truncated: Bool
    ) -> StatusSnapshot {
        let deployed = Dictionary((live?.apis ?? []).map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var listed: [API] = []
        var seen = Set<String>()
        for api in apis {
            seen.insert(api.id)
            if let running = deployed[api.id] {
                listed.append(API(live: running, state: api.lifecycleState.rawValue))
            } else {
                let definition = (try? JSONValue.parse(json: Data(api.definition.utf8))) ?? .null
                listed.append(
                    API(
                        id: api.id, name: api.name, state: api.lifecycleState.rawValue, deployed: false,
                        entrypoints: Entrypoint.of(definition: definition),
                        endpoints: Endpoint.of(definition: definition),
                        openConnections: live == nil ? nil : 0, counters: live == nil ? nil : StatusCounters()))
            }
        }
        for running in live?.apis ?? [] where !seen.contains(running.id) {
            listed.append(API(live: running, state: "STARTED"))
        }
        listed.sort { ($0.name.lowercased(), $0.id) < ($1.name.lowercased(), $1.id) }
        return StatusSnapshot(
            timestampMs: timestampMs, gatewayRunning: live != nil, node: live?.node, openStreams: live?.openStreams,
            apis: listed, truncated: truncated)
    }
}

extension StatusSnapshot.API {
    init(live: GatewayLiveStatus.API, state: String) {
        var endpoints = StatusSnapshot.Endpoint.of(definition: live.definition)
        // The gateway's states, by position (its members follow the definition's primary endpoints).
        for (index, state) in live.endpoints.enumerated() {
            if index < endpoints.count {
                endpoints[index].state = state.connection.rawValue
            } else {
                endpoints.append(.init(name: state.name, type: state.type, state: state.connection.rawValue))
            }
        }
        self.init(
            id: live.id, name: live.name, state: state, deployed: true,
            entrypoints: StatusSnapshot.Entrypoint.of(definition: live.definition), endpoints: endpoints,
            openConnections: live.openConnections, counters: live.counters)
    }
}
