import Prometheus
import SluiceEntrypoints
import Synchronization

/// The gateway's Prometheus registry and the handles of its series.
///
/// Series are resolved once per deployment, plan, application and entrypoint (``RequestSeries``) and kept by the
/// code that counts; counting is then an atomic add per counter. Label values are bounded: APIs and plans by the
/// deployed definitions, entrypoints and endpoints by the connector types, applications by
/// `metrics.maxApplicationLabels` per API (further ones fold into `application="other"`), statuses by HTTP's codes.
/// No label carries a subscription, key, client or message id, nor a request path.
public final class GatewayMetrics: Sendable {
    /// The registry the metrics listener renders; swift-metrics' `MetricsSystem` can report into it as well.
    public let registry: PrometheusCollectorRegistry
    let maxApplicationLabels: Int
    /// The applications given a label of their own, per API.
    private let applications = Mutex<[String: Set<String>]>([:])
    /// Series already resolved, so that a redeployment or another connection gets the same handles.
    private let series = Mutex<[RequestSeries.Key: RequestSeries]>([:])
    let accessLogDropped: Counter
    let accessLogWritten: Counter

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), maxApplicationLabels: Int = 100)
    {
        self.registry = registry
        self.maxApplicationLabels = maxApplicationLabels
        accessLogDropped = registry.makeCounter(descriptor: Names.accessLogDropped)
        accessLogWritten = registry.makeCounter(descriptor: Names.accessLogWritten)
    }

    /// The application label of a request: its id while the API has room for it, else `other`; `none` for a
    /// plan without applications (key-less).
    func applicationLabel(api: String, application: String?) -> String {
        guard let application, !application.isEmpty else { return "none" }
        return applications.withLock { known in
            if known[api]?.contains(application) == true { return application }
            if known[api, default: []].count < maxApplicationLabels {
                known[api, default: []].insert(application)
                return application
            }
            return "other"
        }
    }

    /// The handles of one (api, plan, application, entrypoint, endpoint): made once, then shared.
    func series(
        api: String, plan: String, application: String?, entrypoint: String, endpoint: String
    ) -> RequestSeries {
        let key = RequestSeries.Key(
            api: api, plan: plan, application: applicationLabel(api: api, application: application),
            entrypoint: entrypoint, endpoint: endpoint)
        if let found = series.withLock({ $0[key] }) { return found }
        let made = RequestSeries(key: key, rawApplication: application, registry: registry)
        return series.withLock { known in
            if let found = known[key] { return found }
            known[key] = made
            return made
        }
    }

    /// The counters of one (api, plan, application)'s webhook deliveries, one per outcome.
    func webhookCounters(api: String, plan: String, application: String) -> [WebhookDelivery.Outcome: Counter] {
        let labels = [
            ("api", api), ("plan", plan), ("application", applicationLabel(api: api, application: application)),
        ]
        var counters: [WebhookDelivery.Outcome: Counter] = [:]
        for outcome in WebhookDelivery.Outcome.allCases {
            counters[outcome] = registry.makeCounter(
                descriptor: Names.webhookDeliveries, labels: labels + [("outcome", outcome.rawValue)])
        }
        return counters
    }

    /// The Prometheus text of the registry.
    public func render() -> String {
        registry.emitToString()
    }

    enum Names {
        static var requests: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "sluice", metricName: "requests", unitName: "total",
                helpText: "Requests and streams answered, by status.")
        }
        static var duration: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "sluice", metricName: "request_duration", unitName: "seconds",
                helpText: "Time from a request's head to its answer's end (a stream's whole life).")
        }
        static var requestBytes: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "sluice", metricName: "request_body_bytes", unitName: "total",
                helpText: "Request body bytes received.")
        }
        static var responseBytes: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "sluice", metricName: "response_body_bytes", unitName: "total",
                helpText: "Response body bytes sent (stream events included).")
        }
        static var messagesIn: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "sluice", metricName: "messages_in", unitName: "total",
                helpText: "Messages clients published and the endpoint accepted.")
        }
        static var messagesOut: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "sluice", metricName: "messages_out", unitName: "total",
                helpText: "Messages sent to consumers.")
        }
        static var messageBytesIn: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "sluice", metricName: "message_bytes_in", unitName: "total",
                helpText: "Payload bytes of the messages clients published.")
        }
        static var messageErrors: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "sluice", metricName: "message_errors", unitName: "total",
                helpText: "Messages the endpoint refused or could not take.")
        }
        static var messagesFiltered: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "sluice", metricName: "messages_filtered", unitName: "total",
                helpText: "Messages a flow left out.")
        }
        static var activeConnections: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "sluice", metricName: "active_stream_connections", unitName: "",
                helpText: "SSE and WebSocket connections open now.")
        }
        static var rateLimited: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "sluice", metricName: "rate_limit_rejections", unitName: "total",
                helpText: "Requests refused by a rate limit, quota or spike arrest (429).")
        }
        static var webhookDeliveries: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "sluice", metricName: "webhook_deliveries", unitName: "total",
                helpText: "Webhook deliveries by outcome: delivered (2xx), retried, dead_lettered, dropped.")
        }
        static var accessLogDropped: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "sluice", metricName: "access_log_dropped", unitName: "total",
                helpText: "Access log lines dropped because the writer's buffer was full.")
        }
        static var accessLogWritten: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "sluice", metricName: "access_log_written", unitName: "total",
                helpText: "Access log lines written.")
        }
    }

    /// Request latency buckets: from a publish answered on the loop to a slow backend.
    static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
    ]
}

/// The handles of one (api, plan, application, entrypoint, endpoint): what a request or stream counts into.
final class RequestSeries: Sendable {
    struct Key: Hashable, Sendable {
        var api: String
        var plan: String
        var application: String
        var entrypoint: String
        var endpoint: String
    }

    let key: Key
    /// The application id as the plan decided it (the access log names it even when the label is `other`).
    let rawApplication: String?
    private let registry: PrometheusCollectorRegistry
    private let labels: [(String, String)]
    /// One counter per status seen: made on the status's first answer, then looked up (statuses are few).
    private let statuses = Mutex<[Int: Counter]>([:])
    let duration: DurationHistogram
    let requestBytes: Counter
    let responseBytes: Counter
    let messagesIn: Counter
    let messagesOut: Counter
    let messageBytesIn: Counter
    let messageErrors: Counter
    let messagesFiltered: Counter
    let activeConnections: Gauge
    let rateLimited: Counter

    init(key: Key, rawApplication: String?, registry: PrometheusCollectorRegistry) {
        self.key = key
        self.rawApplication = rawApplication
        self.registry = registry
        let labels = [
            ("api", key.api), ("plan", key.plan), ("application", key.application), ("entrypoint", key.entrypoint),
            ("endpoint", key.endpoint),
        ]
        self.labels = labels
        typealias Names = GatewayMetrics.Names
        duration = registry.makeDurationHistogram(
            descriptor: Names.duration, labels: labels, buckets: GatewayMetrics.durationBuckets)
        requestBytes = registry.makeCounter(descriptor: Names.requestBytes, labels: labels)
        responseBytes = registry.makeCounter(descriptor: Names.responseBytes, labels: labels)
        messagesIn = registry.makeCounter(descriptor: Names.messagesIn, labels: labels)
        messagesOut = registry.makeCounter(descriptor: Names.messagesOut, labels: labels)
        messageBytesIn = registry.makeCounter(descriptor: Names.messageBytesIn, labels: labels)
        messageErrors = registry.makeCounter(descriptor: Names.messageErrors, labels: labels)
        messagesFiltered = registry.makeCounter(descriptor: Names.messagesFiltered, labels: labels)
        activeConnections = registry.makeGauge(descriptor: Names.activeConnections, labels: labels)
        rateLimited = registry.makeCounter(descriptor: Names.rateLimited, labels: labels)
    }

    /// The counter of answers with `status`.
    func requests(status: Int) -> Counter {
        if let counter = statuses.withLock({ $0[status] }) { return counter }
        let counter = registry.makeCounter(
            descriptor: GatewayMetrics.Names.requests, labels: labels + [("status", String(status))])
        statuses.withLock { $0[status] = counter }
        return counter
    }

    /// Messages sent to a consumer, and their bytes on the wire.
    func count(messages: Int, bytes: Int) {
        if messages > 0 { messagesOut.increment(by: Int64(messages)) }
        if bytes > 0 { responseBytes.increment(by: Int64(bytes)) }
    }

    /// One request answered: its status, its time, its bytes.
    func record(status: Int, nanoseconds: Int64, bytesIn: Int, bytesOut: Int) {
        record(requests(status: status), status: status, nanoseconds: nanoseconds, bytesIn: bytesIn, bytesOut: bytesOut)
    }

    /// The same, with the status's counter already at hand.
    func record(_ requests: Counter, status: Int, nanoseconds: Int64, bytesIn: Int, bytesOut: Int) {
        requests.increment()
        duration.recordNanoseconds(nanoseconds)
        if bytesIn > 0 { requestBytes.increment(by: Int64(bytesIn)) }
        if bytesOut > 0 { responseBytes.increment(by: Int64(bytesOut)) }
        if status == 429 { rateLimited.increment() }
    }
}
