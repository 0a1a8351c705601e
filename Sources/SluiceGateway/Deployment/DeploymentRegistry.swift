import Logging
public import SluiceCore
import SluiceEndpoints
public import SluiceEntrypoints
import Synchronization

/// The APIs deployed on this gateway, swapped atomically: a request sees either the old or the new version
/// of an API, never half of one. Replacing an API leaves the streams already open on the old version running
/// until they end; removing one ends its streams.
public final class DeploymentRegistry: Sendable {
    private struct State {
        var deployments: [String: Deployment] = [:]
        var table = RoutingTable(deployments: [])
        var retired: [Deployment] = []
    }

    private let state = Mutex(State())
    /// Bumped each time the routing table changes, after it changed: a connection keeps the route of its latest
    /// request while this has not moved (``routingGeneration``).
    private let generation = Atomic<Int>(0)
    let broker: InMemoryBroker
    /// Parent of every deployment's streams: the gateway-wide count and drain.
    public let streams: LiveStreams
    /// Applications, subscriptions and API keys, for every API's security chain.
    public let access = AccessStore()
    /// The counters of every API's rate-limit, quota and spike-arrest steps; they outlive redeployments.
    public let rateLimitStore: any RateLimitStore
    let limits: GatewayLimits
    let security: SecuritySettings
    let logger: Logger
    /// The gateway's metrics and access log, when it keeps them.
    public let observability: GatewayObservability?

    public init(
        broker: InMemoryBroker, streams: LiveStreams, limits: GatewayLimits, security: SecuritySettings = .init(),
        logger: Logger, rateLimitStore: (any RateLimitStore)? = nil, observability: GatewayObservability? = nil
    ) {
        self.observability = observability
        self.rateLimitStore = rateLimitStore ?? LocalRateLimitStore(capacity: limits.maxRateLimitCounters)
        self.broker = broker
        self.streams = streams
        self.limits = limits
        self.security = security
        self.logger = logger
    }

    var table: RoutingTable { state.withLock { $0.table } }

    /// Changes whenever ``table`` does. Read before the table: a route found in a table read after this value is
    /// at least as new as it.
    var routingGeneration: Int { generation.load(ordering: .acquiring) }

    public var deployedIDs: [String] { state.withLock { $0.deployments.keys.sorted() } }

    /// The API deployed with this id, if any.
    public func deployment(id: String) -> Deployment? { state.withLock { $0.deployments[id] } }

    /// Deploys `definition` (replacing an API with the same id), or throws with the reasons it cannot run.
    @discardableResult
    public func deploy(_ definition: APIDefinition, source: String) throws -> Deployment {
        if let (path, otherID) = table.conflict(with: definition) {
            throw DeploymentError(
                apiID: definition.id,
                diagnostics: [
                    Diagnostic(
                        path: "listeners",
                        message:
                            "context path '\(path.host.map { "\($0)" } ?? "")\(path.path)' is already used by API '\(otherID)'",
                        code: "PATH_CONFLICT"
                    )
                ]
            )
        }
        let deployment = try Deployment.make(
            definition: definition, source: source, broker: broker, streams: LiveStreams(parent: streams),
            limits: limits, security: security, observability: observability, logger: logger
        )
        let replaced = state.withLock { state -> Deployment? in
            let old = state.deployments.updateValue(deployment, forKey: definition.id)
            state.table = RoutingTable(deployments: Array(state.deployments.values))
            generation.add(1, ordering: .releasing)
            if let old { state.retired.append(old) }
            return old
        }
        logger.info(
            "API deployed",
            metadata: ["api": "\(definition.id)", "source": "\(source)", "replaced": "\(replaced != nil)"]
        )
        return deployment
    }

    /// Removes an API: new requests get 404, open streams are ended.
    public func undeploy(id: String) async {
        let removed = state.withLock { state -> Deployment? in
            guard let removed = state.deployments.removeValue(forKey: id) else { return nil }
            state.table = RoutingTable(deployments: Array(state.deployments.values))
            generation.add(1, ordering: .releasing)
            return removed
        }
        guard let removed else { return }
        removed.streams.endAll(.apiRemoved)
        await removed.stopConnectors()
        logger.info("API undeployed", metadata: ["api": "\(id)"])
    }

    /// Stops the connectors of replaced versions once their last stream has closed.
    func stopIdleRetired() async {
        let idle = state.withLock { state -> [Deployment] in
            let idle = state.retired.filter { $0.streams.count == 0 }
            state.retired.removeAll { $0.streams.count == 0 }
            return idle
        }
        for deployment in idle { await deployment.stopConnectors() }
    }
}
