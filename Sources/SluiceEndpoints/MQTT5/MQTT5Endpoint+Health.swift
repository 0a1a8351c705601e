extension MQTT5Endpoint: EndpointHealthChecking {
    public var connectedNow: Bool? {
        runtime.existingPublisher?.current.connected
    }

    /// Reachable while the deployment's publishing connection to the broker is up (started, and waited for a
    /// little, when it is not yet).
    public func checkHealth() async -> EndpointHealth {
        let link: MQTT5Link
        do {
            link = try runtime.publisher()
        } catch {
            return EndpointHealth(reachable: false, detail: error.message)
        }
        if link.current.connected { return EndpointHealth(reachable: true, detail: "connected") }
        if !link.current.decided {
            do {
                try await link.waitUntilUp(timeout: .seconds(2))
                return EndpointHealth(reachable: true, detail: "connected")
            } catch {
                return EndpointHealth(reachable: false, detail: error.message)
            }
        }
        let reason = link.current.lastError.map { "\($0)" } ?? "not connected"
        return EndpointHealth(reachable: false, detail: reason)
    }
}
