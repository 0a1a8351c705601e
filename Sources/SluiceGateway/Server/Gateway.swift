import Foundation
import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
public import Logging
import NIOCore
import NIOPosix
public import ServiceLifecycle
public import SluiceCore
import SluiceEndpoints
public import SluiceEntrypoints
public import SluiceStore
public import UnixSignals

/// A whole gateway: the HTTP server, the deployed APIs, the definition watcher and the drain on shutdown, as
/// services of one `ServiceGroup`.
public final class Gateway: Sendable {
    public let settings: GatewaySettings
    public let registry: DeploymentRegistry
    public let streams: LiveStreams
    let logger: Logger
    let loader: DefinitionLoader
    let watcher: DefinitionWatcher?
    /// The management store the gateway serves from, when one is configured.
    public let managementStore: (any ManagementStore)?
    /// What keeps the deployed APIs and access data in step with the management store.
    public let storeSync: StoreSyncService?
    let broker: InMemoryBroker
    /// The webhook subscriptions' deliveries.
    public let webhooks: WebhookDispatcher
    /// Metrics and access log (`docs/observability.md`).
    public let observability: GatewayObservability
    private let boundPort = BoundPort()
    private let boundMetricsPort = BoundPort()

    /// - Parameters:
    ///   - rateLimitStore: where rate-limit counters live. Default: in this process's memory.
    ///   - managementStore: where APIs and access data are managed. With one, the gateway serves what the store
    ///     holds (the `apis` files are copied into it at start, when set) instead of watching the files. A store
    ///     that is a `Service` (PostgreSQL) runs first among the gateway's services. Default: none.
    ///   - webhookResolver: how webhook deliveries resolve callback names they check. Default: the system's.
    public init(
        settings: GatewaySettings, logger: Logger, catalog: DefinitionCatalog = .gateway,
        rateLimitStore: (any RateLimitStore)? = nil, managementStore: (any ManagementStore)? = nil,
        webhookResolver: WebhookHostResolver = .system
    ) {
        self.settings = settings
        self.logger = logger
        self.loader = DefinitionLoader(catalog: catalog)
        self.streams = LiveStreams(counter: ConnectionCounter(maximum: settings.limits.maxStreamingConnections))
        let broker = InMemoryBroker()
        self.broker = broker
        // Requests are counted when something shows the numbers: the metrics listener, or the management API's
        // status in the same process.
        let observability = GatewayObservability(
            settings: settings.observability,
            countsRequests: settings.metricsPort != nil || settings.effectiveRole == .all, logger: logger)
        self.observability = observability
        let registry = DeploymentRegistry(
            broker: broker, streams: streams, limits: settings.limits, security: settings.security, logger: logger,
            rateLimitStore: rateLimitStore, observability: observability
        )
        self.registry = registry
        self.webhooks = WebhookDispatcher(
            registry: registry, interval: .milliseconds(min(max(settings.reloadIntervalMs / 4, 50), 250)),
            nodeIdentifier: settings.effectiveNodeID, callbackPolicy: settings.webhookCallbacks,
            resolver: webhookResolver, logger: logger)
        self.managementStore = managementStore
        if let managementStore {
            self.storeSync = StoreSyncService(
                store: managementStore, registry: registry, catalog: catalog,
                pollInterval: .milliseconds(settings.store.pollIntervalMs), callbackPolicy: settings.webhookCallbacks,
                seedDirectory: settings.apis, logger: logger)
            self.watcher = nil
        } else if let apis = settings.apis {
            self.storeSync = nil
            self.watcher = DefinitionWatcher(
                path: apis, loader: DefinitionLoader(catalog: catalog), registry: registry,
                interval: .milliseconds(settings.reloadIntervalMs), logger: logger,
                callbackPolicy: settings.webhookCallbacks
            )
        } else {
            self.storeSync = nil
            self.watcher = nil
        }
    }

    /// The port the server listens on, once it does (useful with port 0).
    public func port() async -> Int {
        await boundPort.value()
    }

    /// The port the Prometheus metrics listener is bound to, once it is; nil when `metrics.port` is not set.
    public func metricsPort() async -> Int? {
        guard settings.metricsPort != nil else { return nil }
        return await boundMetricsPort.value()
    }

    /// The Prometheus text of this node's metrics now (what the metrics listener serves).
    public func metricsText() -> String {
        var exposition = PrometheusExposition()
        webhooks.writeMetrics(into: &exposition)
        GatewayHealth.writeConnectionStates(of: registry, into: &exposition)
        GatewayHealth.writeKafkaLag(of: registry, into: &exposition)
        return observability.metrics.render() + exposition.text
    }

    /// The services to run: server, definition watcher, stream drain (shut down first, so streams say goodbye
    /// before the server stops accepting).
    public func services() throws -> [any Service] {
        let limits = settings.limits
        let responder = GatewayResponder(registry: registry, limits: limits, logger: logger)
        let registry = self.registry
        let configuration = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: HTTP1Channel.Configuration(
                idleTimeout: nil,
                httpDecoderConfiguration: .init(
                    maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes,
                    maxHeaderFieldCount: 1000
                )
            ),
            ws: WebSocketServerConfiguration(
                maxFrameSize: limits.maxMessageBytes, autoPing: .enabled(timePeriod: .seconds(30)),
                closeTimeout: .seconds(5)
            )
        )
        let builder = HTTPServerBuilder { httpResponder in
            GatewayChildChannel(
                inner: HTTP1WebSocketUpgradeChannel(
                    responder: httpResponder, configuration: configuration,
                    shouldUpgrade: { head, channel, _ in responder.upgrade(head, channel: channel) }
                ),
                headerLimit: limits.maxHeaderBytes, registry: registry, limits: limits
            )
        }
        let server = try builder.buildServer(
            configuration: ServerConfiguration(address: .hostname(settings.host, port: settings.port)),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: logger,
            responder: { request, writer, channel in try await responder.respond(request, writer, channel) },
            onServerRunning: { [boundPort] channel in boundPort.bound(channel.localAddress?.port ?? 0) }
        )
        var services: [any Service] = []
        // First, so that it stops last: everything else may use it until then.
        if let storeService = managementStore as? any Service { services.append(storeService) }
        // Early, so that it stops late: the spans of the streams the drain ends are exported too.
        if let tracing = observability.tracing { services.append(tracing.service) }
        services += [InMemoryDeadlineService(broker: broker), server]
        if let metricsPort = settings.metricsPort {
            services.append(
                try MetricsServer.build(
                    host: settings.host, port: metricsPort, extraPath: settings.observability.metricsPath,
                    logger: logger, render: { [weak self] in self?.metricsText() ?? "" },
                    health: { [registry] ready in await GatewayHealth.answer(ready: ready, registry: registry) },
                    onRunning: { [boundMetricsPort] in boundMetricsPort.bound($0) }))
        }
        if let watcher { services.append(watcher) }
        if let storeSync { services.append(storeSync) }
        services.append(webhooks)
        services.append(StreamDrainService(streams: streams, registry: registry, logger: logger))
        services.append(ObservabilityService(observability: observability))
        return services
    }

    /// Deploys the definitions at `settings.apis` once; returns the files that did not deploy. With a management
    /// store, the store sync does this once it runs (it copies the files into the store first), and this does
    /// nothing.
    public func deployDefinitions() async -> [LoadedDefinition] {
        await watcher?.scan(reason: nil) ?? []
    }

    /// Runs until SIGTERM or SIGINT (then drains) or until the task is cancelled.
    public func run(signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        var configuration = ServiceGroupConfiguration(
            services: try services().map { .init(service: $0) }, gracefulShutdownSignals: signals, logger: logger
        )
        configuration.maximumGracefulShutdownDuration = Duration.milliseconds(Int(settings.drainTimeoutSeconds * 1000))
        try await ServiceGroup(configuration: configuration).run()
    }
}

/// Ends the in-memory reads whose deadline passed (heartbeats, poll time limits); see ``InMemoryBroker``.
struct InMemoryDeadlineService: Service {
    let broker: InMemoryBroker

    func run() async throws {
        await cancelWhenGracefulShutdown { await broker.runDeadlines() }
    }
}

/// Waits for shutdown, then ends every open stream with its goodbye (SSE `goaway`, WebSocket 1001).
struct StreamDrainService: Service {
    let streams: LiveStreams
    let registry: DeploymentRegistry
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.info("draining", metadata: ["streams": "\(streams.count)"])
        streams.endAll(.draining)
    }
}
