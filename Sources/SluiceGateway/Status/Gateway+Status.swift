import SluiceEndpoints

extension Gateway {
    /// The deployed APIs with their endpoints' states, open connections and counters now.
    ///
    /// The counters are read back from the gateway's metrics registry (what `/metrics` serves), so nothing on the
    /// request path counts twice; they stay at zero unless requests are counted (`metrics.port` set, or the
    /// management API in the same process).
    public func liveStatus() -> GatewayLiveStatus {
        let totals = StatusTotals.read(observability.metrics.render())
        var apis: [GatewayLiveStatus.API] = []
        for id in registry.deployedIDs {
            guard let deployment = registry.deployment(id: id) else { continue }
            let total = totals[id] ?? StatusTotals()
            apis.append(
                GatewayLiveStatus.API(
                    id: id, name: deployment.definition.name, definition: .object(deployment.definition.document),
                    endpoints: GatewayHealth.connectionStates(of: deployment).map {
                        GatewayLiveStatus.EndpointState(name: $0.name, type: $0.type, connection: $0.connection)
                    },
                    openConnections: total.openConnections, counters: total.counters))
        }
        return GatewayLiveStatus(apis: apis, openStreams: streams.count, node: settings.effectiveNodeID)
    }
}
