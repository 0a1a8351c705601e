import Foundation
import SluiceCore
import SluiceEndpoints

/// The gateway's liveness and readiness, as the metrics listener answers them at `/health/live` and
/// `/health/ready`.
///
/// Live: the process answers. Ready: every deployed API's endpoints are reachable: a Kafka cluster with a broker
/// connected, an MQTT 5 broker connected, an http-proxy group not wholly circuit-broken (the embedded log and the
/// mock always are). Each check is bounded in time; one that does not answer in time counts as unreachable.
enum GatewayHealth {
    struct EndpointReport: Sendable {
        var name: String
        var type: String
        var health: EndpointHealth
    }

    struct APIReport: Sendable {
        var api: String
        var endpoints: [EndpointReport]
        var ready: Bool { endpoints.allSatisfy(\.health.reachable) }
    }

    /// How long one endpoint's check may take.
    static let checkTimeLimit = Duration.seconds(3)

    /// Checks every deployed API's endpoints, concurrently.
    static func readiness(of registry: DeploymentRegistry) async -> (ready: Bool, json: String) {
        let deployments = registry.deployedIDs.compactMap { registry.deployment(id: $0) }
        let reports = await withTaskGroup(of: APIReport.self) { group in
            for deployment in deployments {
                group.addTask { await check(deployment) }
            }
            var reports: [APIReport] = []
            for await report in group { reports.append(report) }
            return reports.sorted { $0.api < $1.api }
        }
        let ready = reports.allSatisfy(\.ready)
        var json = "{\"status\":\"\(ready ? "UP" : "DOWN")\",\"apis\":{"
        for (index, report) in reports.enumerated() {
            if index > 0 { json += "," }
            JSONString.append(report.api, to: &json)
            json += ":{\"status\":\"\(report.ready ? "UP" : "DOWN")\",\"endpoints\":["
            for (endpointIndex, endpoint) in report.endpoints.enumerated() {
                if endpointIndex > 0 { json += "," }
                json += "{\"name\":"
                JSONString.append(endpoint.name, to: &json)
                json += ",\"type\":"
                JSONString.append(endpoint.type, to: &json)
                json += ",\"status\":\"\(endpoint.health.reachable ? "UP" : "DOWN")\",\"detail\":"
                JSONString.append(endpoint.health.detail, to: &json)
                json += "}"
            }
            json += "]}"
        }
        json += "}}"
        return (ready, json)
    }

    static func check(_ deployment: Deployment) async -> APIReport {
        var endpoints: [EndpointReport] = []
        for (name, connector) in members(of: deployment) {
            endpoints.append(EndpointReport(name: name, type: connector.type, health: await health(of: connector)))
        }
        return APIReport(api: deployment.id, endpoints: endpoints)
    }

    /// The connectors a deployment serves from (each member of its group), named after the definition's primary
    /// endpoints in order (by their type past those).
    static func members(of deployment: Deployment) -> [(name: String, connector: any EndpointConnector)] {
        let names = deployment.definition.endpointGroups.first?.endpoints.filter { !$0.secondary }.map(\.name) ?? []
        let connectors: [any EndpointConnector] =
            (deployment.endpoint as? EndpointGroupConnector)?.members.map(\.connector) ?? [deployment.endpoint]
        return connectors.enumerated().map { index, connector in
            (index < names.count ? names[index] : connector.type, connector)
        }
    }

    static func health(of connector: any EndpointConnector) async -> EndpointHealth {
        if let group = connector as? HTTPProxyGroup {
            return group.allCircuitsOpen
                ? EndpointHealth(reachable: false, detail: "every circuit breaker is open")
                : EndpointHealth(reachable: true, detail: "circuit closed")
        }
        guard let checking = connector as? any EndpointHealthChecking else {
            return EndpointHealth(reachable: true, detail: "embedded")
        }
        return await withTaskGroup(of: EndpointHealth?.self) { group in
            group.addTask { await checking.checkHealth() }
            group.addTask {
                try? await Task.sleep(for: checkTimeLimit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? EndpointHealth(reachable: false, detail: "no answer within \(checkTimeLimit)")
        }
    }
}

extension GatewayHealth {
    /// The listener's answer: live is 200 while the process answers; ready is 200 or 503 with the details.
    static func answer(ready: Bool, registry: DeploymentRegistry) async -> MetricsServer.Answer {
        guard ready else {
            return MetricsServer.Answer(status: .ok, contentType: "application/json", body: "{\"status\":\"UP\"}")
        }
        let (isReady, json) = await readiness(of: registry)
        return MetricsServer.Answer(
            status: isReady ? .ok : .serviceUnavailable, contentType: "application/json", body: json)
    }
}

extension GatewayHealth {
    /// `sluice_endpoint_connected{api,endpoint,type}`: each broker endpoint's connection, read without waiting
    /// (an endpoint that has not needed a connection yet has no sample).
    static func writeConnectionStates(of registry: DeploymentRegistry, into exposition: inout PrometheusExposition) {
        var samples: [PrometheusExposition.Sample] = []
        for id in registry.deployedIDs {
            guard let deployment = registry.deployment(id: id) else { continue }
            for state in connectionStates(of: deployment) {
                guard let connected = state.connected else { continue }
                samples.append(
                    .init(
                        labels: [("api", deployment.id), ("endpoint", state.name), ("type", state.type)],
                        value: connected ? 1 : 0))
            }
        }
        exposition.family(
            "sluice_endpoint_connected", .gauge,
            help: "1 while an API's broker endpoint has a connection to its broker, else 0.", samples)
    }
}

extension GatewayHealth {
    /// One endpoint of a deployment and its connection, read without waiting.
    struct ConnectionState {
        var name: String
        var type: String
        var connection: GatewayLiveStatus.EndpointState.Connection
        /// A broker endpoint's connection; nil for other endpoints and before a broker connection was needed.
        var connected: Bool? {
            switch connection {
            case .connected: true
            case .disconnected: false
            default: nil
            }
        }
    }

    /// Each endpoint of a deployment (each member of its group) and its connection now.
    static func connectionStates(of deployment: Deployment) -> [ConnectionState] {
        members(of: deployment).map { name, connector in
            let connection: GatewayLiveStatus.EndpointState.Connection
            if let group = connector as? HTTPProxyGroup {
                connection = group.allCircuitsOpen ? .circuitOpen : .ready
            } else if let checking = connector as? any EndpointHealthChecking {
                connection = checking.connectedNow.map { $0 ? .connected : .disconnected } ?? .idle
            } else {
                connection = .embedded
            }
            return ConnectionState(name: name, type: connector.type, connection: connection)
        }
    }
}

extension GatewayHealth {
    /// `sluice_kafka_consumer_lag{api,endpoint,topic,partition}`: per partition, the largest lag among the API's
    /// live consumers, as their latest fetches told (topics and partitions are bounded by the definitions).
    static func writeKafkaLag(of registry: DeploymentRegistry, into exposition: inout PrometheusExposition) {
        var samples: [PrometheusExposition.Sample] = []
        for id in registry.deployedIDs {
            guard let deployment = registry.deployment(id: id) else { continue }
            for (name, connector) in members(of: deployment) {
                guard let kafka = connector as? KafkaEndpoint else { continue }
                for entry in kafka.consumerLag {
                    samples.append(
                        .init(
                            labels: [
                                ("api", deployment.id), ("endpoint", name), ("topic", entry.topic),
                                ("partition", String(entry.partition)),
                            ],
                            value: Double(entry.lag)))
                }
            }
        }
        exposition.family(
            "sluice_kafka_consumer_lag", .gauge,
            help: "Records between what the API's consumers have read and the partition's high watermark (largest).",
            samples)
    }
}
