import KafkaClient

extension KafkaEndpoint: EndpointHealthChecking {
    public var connectedNow: Bool? {
        runtime.existingCluster?.hasOpenConnectionNow
    }

    /// Reachable while a connection to some broker of the cluster is open, or one opens now.
    public func checkHealth() async -> EndpointHealth {
        let cluster: KafkaCluster
        do {
            cluster = try runtime.cluster()
        } catch {
            return EndpointHealth(reachable: false, detail: error.message)
        }
        if cluster.hasOpenConnectionNow { return EndpointHealth(reachable: true, detail: "connected") }
        do {
            try await cluster.checkReachable()
            return EndpointHealth(reachable: true, detail: "connected")
        } catch {
            return EndpointHealth(reachable: false, detail: "\(error)")
        }
    }
}
