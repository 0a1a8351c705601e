import Logging
import NIOCore
import ServiceLifecycle
import SluiceCore
import SluiceEntrypoints
import Synchronization

/// What a gateway tells about itself: its metrics registry and its access log, shared by every deployment.
public final class GatewayObservability: Sendable {
    public let metrics: GatewayMetrics
    /// Whether requests are counted: only when something serves the metrics (`metrics.port`).
    let countsRequests: Bool
    let accessLog: AccessLog?
    /// Spans exported over OTLP, when `tracing.enabled` is on (and its exporter could be set up).
    public let tracing: GatewayTracing?
    /// The plan the async path decided for a connection's request in progress, read when its answer is written
    /// (the event-loop handler counts the answers of both paths).
    private let decidedPlans = Mutex<[ObjectIdentifier: DecidedRequest]>([:])

    /// What the async path decided for a request: its plan, and the observer of its messages once it has one.
    struct DecidedRequest {
        var plan: SecurityChain.ResolvedPlan
        var observer: RequestMessageObserver?
    }

    public init(settings: ObservabilitySettings, countsRequests: Bool = true, logger: Logger) {
        metrics = GatewayMetrics(maxApplicationLabels: settings.maxApplicationLabels)
        self.countsRequests = countsRequests
        if settings.accessLog != .off {
            do {
                accessLog = try AccessLog(
                    output: settings.accessLog, capacity: settings.accessLogBufferLines, metrics: metrics)
            } catch {
                logger.error("access log off", metadata: ["reason": "\(error)"])
                accessLog = nil
            }
        } else {
            accessLog = nil
        }
        if settings.tracing.enabled {
            do {
                tracing = try GatewayTracing(settings: settings.tracing, logger: logger)
            } catch {
                logger.error("tracing off", metadata: ["reason": "\(error)"])
                tracing = nil
            }
        } else {
            tracing = nil
        }
    }

    /// Waits until the access log lines of the requests answered so far are written.
    public func flushAccessLog() async {
        await accessLog?.flush()
    }

    func stop() {
        accessLog?.stop()
    }

    func noteDecidedPlan(_ plan: SecurityChain.ResolvedPlan, connection: ObjectIdentifier) {
        decidedPlans.withLock { $0[connection] = DecidedRequest(plan: plan) }
    }

    /// The request's message observer, for its access log line's message counts.
    func noteObserver(_ observer: RequestMessageObserver, connection: ObjectIdentifier) {
        decidedPlans.withLock { $0[connection]?.observer = observer }
    }

    func takeDecidedRequest(connection: ObjectIdentifier) -> DecidedRequest? {
        decidedPlans.withLock { $0.removeValue(forKey: connection) }
    }
}

/// One deployment's view of the gateway's observability: its labels and series, resolved once.
final class DeploymentObservation: Sendable {
    let api: String
    /// The endpoint's type (`kafka`, `mqtt5`, `inmemory`, `http-proxy`, …): the `endpoint` label.
    let endpoint: String
    let metrics: GatewayMetrics?
    let accessLog: AccessLog?
    /// Query parameters masked in access log lines besides the usual secret names: the API key parameter.
    let secretParameters: Set<String>

    /// The definition's message logging (`analytics`), when it logs messages and the access log is on.
    let messageLog: MessageLog?
    /// Headers masked in message log lines besides the usual secret names: the API key header.
    let secretHeaders: Set<String>
    /// Its spans, when the gateway traces.
    let tracing: DeploymentTracing?

    init(
        definition: APIDefinition, observability: GatewayObservability?, apiKeyQueryParameter: String,
        apiKeyHeader: String, messageLog: MessageLog?
    ) {
        api = definition.id
        endpoint = definition.endpointGroups.first?.type ?? "none"
        metrics = observability?.countsRequests == true ? observability?.metrics : nil
        accessLog = observability?.accessLog
        secretParameters = [apiKeyQueryParameter.lowercased()]
        secretHeaders = [apiKeyHeader.lowercased()]
        self.messageLog = accessLog == nil ? nil : messageLog
        tracing = observability?.tracing.map { DeploymentTracing(definition: definition, tracing: $0) }
    }

    /// Counts a webhook subscription's deliveries, retries, DLQ and drops under its API, plan and application.
    func webhookOutcomes(plan: String, application: String) -> (@Sendable (WebhookDelivery.Outcome) -> Void)? {
        guard let metrics else { return nil }
        let counters = metrics.webhookCounters(api: api, plan: plan, application: application)
        return { outcome in counters[outcome]?.increment() }
    }

    /// What an entrypoint tells of the messages of one request, when anything counts or logs them.
    /// - Parameter logScope: the request's expression scope, when the message log has conditions.
    func messageObserver(
        plan: SecurityChain.ResolvedPlan?, entrypoint: String, logScope: ExpressionScope? = nil
    ) -> RequestMessageObserver? {
        guard isEnabled else { return nil }
        return RequestMessageObserver(
            series: series(plan: plan, entrypoint: entrypoint), log: messageLog, accessLog: accessLog, api: api,
            plan: plan, entrypoint: entrypoint, secretHeaders: secretHeaders, logScope: logScope)
    }

    static let disabled = DeploymentObservation()

    private init() {
        api = ""
        endpoint = ""
        metrics = nil
        accessLog = nil
        secretParameters = []
        secretHeaders = []
        messageLog = nil
        tracing = nil
    }

    var isEnabled: Bool { metrics != nil || accessLog != nil }

    func series(plan: SecurityChain.ResolvedPlan?, entrypoint: String) -> RequestSeries? {
        metrics?.series(
            api: api, plan: plan?.id ?? "none", application: plan?.application, entrypoint: entrypoint,
            endpoint: endpoint)
    }
}

/// A WebSocket connection from its upgrade to its close: an open connection on its series while it lasts, then
/// one request (status 101) and one access log line.
struct WebSocketObservation: Sendable {
    let series: RequestSeries?
    let observation: DeploymentObservation
    let plan: SecurityChain.ResolvedPlan
    let target: String
    let started: UInt64
    let startedMs: Int64

    init?(deployment: Deployment, plan: SecurityChain.ResolvedPlan, target: String, started: UInt64, startedMs: Int64) {
        let observation = deployment.observation
        guard observation.isEnabled else { return nil }
        self.observation = observation
        self.series = observation.series(plan: plan, entrypoint: "websocket")
        self.plan = plan
        self.target = target
        self.started = started
        self.startedMs = startedMs
        series?.activeConnections.increment()
    }

    func finish(observer: RequestMessageObserver?) {
        let elapsed = Int64(NIODeadline.now().uptimeNanoseconds &- started)
        series?.activeConnections.decrement()
        series?.record(status: 101, nanoseconds: elapsed, bytesIn: 0, bytesOut: 0)
        observation.accessLog?.append(
            AccessLogEntry(
                timestampMs: startedMs, api: observation.api, plan: plan.id, application: plan.application,
                entrypoint: "websocket", method: "GET", target: target, secretParameters: observation.secretParameters,
                status: 101, durationNanoseconds: elapsed, firstByteNanoseconds: nil, bytesIn: 0, bytesOut: 0,
                messagesIn: observer?.publishedCount.load(ordering: .relaxed),
                messagesOut: observer?.deliveredCount.load(ordering: .relaxed), stream: true))
    }
}

/// Writes what the access log holds when the gateway stops.
struct ObservabilityService: Service {
    let observability: GatewayObservability

    func run() async throws {
        try? await gracefulShutdown()
        await observability.flushAccessLog()
        observability.stop()
    }
}
