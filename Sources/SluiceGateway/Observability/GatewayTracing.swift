import HTTPTypes
import Logging
import OTel
import ServiceLifecycle
import SluiceCore
import SluiceEntrypoints
import Tracing

/// The gateway's tracer when `tracing.enabled` is on: spans made through swift-distributed-tracing's API, batched
/// (bounded queue) and exported over OTLP/HTTP by swift-otel. With tracing off there is no such object, and every
/// place that would make a span finds nil and does nothing (`docs/tracing.md`).
public final class GatewayTracing: Sendable {
    let tracer: any Tracer
    /// The batch processor and the exporter: run among the gateway's services; when the gateway stops, it exports
    /// the spans it still holds, then ends.
    let service: any Service

    init(settings: TracingSettings, logger: Logger) throws {
        var configuration = OTel.Configuration.default
        configuration.serviceName = settings.serviceName
        configuration.diagnosticLogger = .custom(logger)
        configuration.propagators = [.traceContext]
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        configuration.traces.enabled = true
        configuration.traces.exporter = .otlp
        configuration.traces.sampler =
            .parentBasedTraceIDRatio(ratio: settings.samplerRatio) ?? .parentBasedAlwaysOn
        var batch = configuration.traces.batchSpanProcessor
        batch.maxQueueSize = settings.queueSize
        batch.maxExportBatchSize = settings.batchSize
        batch.scheduleDelay = .milliseconds(settings.scheduleDelayMs)
        configuration.traces.batchSpanProcessor = batch
        configuration.traces.otlpExporter.endpoint = settings.otlpEndpoint
        configuration.traces.otlpExporter.protocol = settings.otlpProtocol == .httpJSON ? .httpJSON : .httpProtobuf
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        tracer = backend.factory
        service = backend.service
    }

    /// The context a span continues: the trace of a valid `traceparent`, else a new trace.
    func context(parent: String?, state: String?) -> ServiceContext {
        var context = ServiceContext.topLevel
        guard let parent, TraceParent(parent) != nil else { return context }
        tracer.extract(TraceHeaders(parent: parent, state: state), into: &context, using: TraceHeaders.Extractor())
        return context
    }

    /// `span`'s trace context as the `traceparent` and `tracestate` headers that carry it on.
    func headers(of span: any Span) -> (parent: String, state: String?)? {
        var headers = TraceHeaders()
        tracer.inject(span.context, into: &headers, using: TraceHeaders.Injector())
        guard let parent = headers.parent else { return nil }
        return (parent, headers.state)
    }

    /// Starts a span; its attributes are made only when it records (an unsampled span costs no more than that).
    func startSpan(
        _ name: @autoclosure () -> String, context: ServiceContext, kind: SpanKind,
        attributes: (inout SpanAttributes) -> Void
    ) -> any Span {
        let span = tracer.startSpan(name(), context: context, ofKind: kind)
        if span.isRecording {
            var values = SpanAttributes()
            attributes(&values)
            span.attributes = values
        }
        return span
    }
}

/// The two W3C Trace Context headers, as the tracer's propagator reads and writes them.
struct TraceHeaders {
    var parent: String?
    var state: String?

    struct Extractor: Tracing.Extractor {
        func extract(key: String, from carrier: TraceHeaders) -> String? {
            switch key {
            case TraceParent.headerName: carrier.parent
            case TraceParent.stateHeaderName: carrier.state
            default: nil
            }
        }
    }

    struct Injector: Tracing.Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout TraceHeaders) {
            switch key {
            case TraceParent.headerName: carrier.parent = value
            case TraceParent.stateHeaderName: carrier.state = value
            default: break
            }
        }
    }
}

/// One API's spans: its attributes (API, endpoint system and destination), resolved once at deploy time.
final class DeploymentTracing: Sendable {
    let tracing: GatewayTracing
    let apiID: String
    let apiName: String
    /// `messaging.system`: `kafka`, `mqtt`, or the endpoint's type.
    let messagingSystem: String
    /// Where the API's messages are published (the producer's topics), when the definition says.
    let destination: String?

    init(definition: APIDefinition, tracing: GatewayTracing) {
        self.tracing = tracing
        apiID = definition.id
        apiName = definition.name
        let group = definition.endpointGroups.first
        switch group?.type {
        case "mqtt5": messagingSystem = "mqtt"
        case let type?: messagingSystem = type
        case nil: messagingSystem = "none"
        }
        if let group, let endpoint = group.endpoints.first {
            let producer = endpoint.effectiveSharedConfiguration(group: group)["producer"]
            let topics = producer?["topics"]?.arrayValue?.compactMap(\.stringValue) ?? []
            // Kafka's producer topics, MQTT's producer topic, the embedded log's topic.
            destination =
                topics.isEmpty
                ? producer?["topic"]?.stringValue ?? endpoint.configuration["topic"]?.stringValue
                : topics.joined(separator: ",")
        } else {
            destination = nil
        }
    }

    /// The attributes every span of a request carries: API, plan, application, entrypoint (never a credential).
    func addCommonAttributes(
        _ attributes: inout SpanAttributes, plan: SecurityChain.ResolvedPlan?, entrypoint: String
    ) {
        attributes["sluice.api.id"] = apiID
        attributes["sluice.api.name"] = apiName
        attributes["sluice.entrypoint.type"] = entrypoint
        if let plan {
            attributes["sluice.plan.id"] = plan.id
            if let application = plan.application { attributes["sluice.application.id"] = application }
        }
    }

    /// Starts the server span of a request or WebSocket connection, a child of the trace context its headers
    /// carry.
    func startRequest(
        entrypoint: String, method: String, path: String, route: String, plan: SecurityChain.ResolvedPlan?,
        traceContext fields: HTTPFields
    ) -> GatewayRequestTrace {
        startRequest(
            entrypoint: entrypoint, method: method, path: path, route: route, plan: plan,
            traceParent: fields[MessageHeaders.traceParentField],
            traceState: fields[MessageHeaders.traceStateField])
    }

    /// Starts the server span of a request or WebSocket connection, a child of the client's trace context.
    func startRequest(
        entrypoint: String, method: String, path: String, route: String, plan: SecurityChain.ResolvedPlan?,
        traceParent: String?, traceState: String?
    ) -> GatewayRequestTrace {
        let known = Self.knownMethod(method)
        let span = tracing.startSpan(
            "\(known ?? "HTTP") \(route)", context: tracing.context(parent: traceParent, state: traceState),
            kind: .server
        ) { attributes in
            addCommonAttributes(&attributes, plan: plan, entrypoint: entrypoint)
            Self.addMethod(&attributes, method, known: known)
            attributes["url.path"] = path
            attributes["url.scheme"] = "http"
            attributes["http.route"] = route
        }
        return GatewayRequestTrace(span: span, deployment: self, plan: plan, entrypoint: entrypoint)
    }

    /// Starts the server span of a proxied request, a child of the client's trace context; its backend attempts'
    /// client spans are its children.
    func startProxyRequest(
        method: String, path: String, route: String, plan: SecurityChain.ResolvedPlan, traceParent: String?,
        traceState: String?
    ) -> ProxyRequestTrace {
        ProxyRequestTrace(
            request: startRequest(
                entrypoint: HTTPProxyEntrypoint.type, method: method, path: path, route: route, plan: plan,
                traceParent: traceParent, traceState: traceState))
    }

    /// `method` as spans name it: one of HTTP's methods, else nil (a proxy passes any method on; the span's name
    /// stays among a known few).
    static func knownMethod(_ method: String) -> String? {
        switch method {
        case "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "QUERY": method
        default: nil
        }
    }

    /// `http.request.method`: the method, or `_OTHER` with the method sent as `http.request.method_original`.
    static func addMethod(_ attributes: inout SpanAttributes, _ method: String, known: String?) {
        attributes["http.request.method"] = known ?? "_OTHER"
        if known == nil { attributes["http.request.method_original"] = method }
    }

    /// The client spans of one webhook subscription's callbacks.
    func callbacks(plan: String, application: String?, subscription: String) -> WebhookCallbackTracer {
        var attributes = SpanAttributes()
        attributes["sluice.api.id"] = apiID
        attributes["sluice.api.name"] = apiName
        attributes["sluice.entrypoint.type"] = WebhookEntrypoint.type
        attributes["sluice.plan.id"] = plan
        if let application { attributes["sluice.application.id"] = application }
        attributes["sluice.subscription.id"] = subscription
        return WebhookCallbackTracer(deployment: self, common: attributes)
    }

    /// The same for the callbacks, whose subscription's attributes are fixed.
    func startCallback(_ url: String, for message: Message, common: SpanAttributes) -> any Span {
        let context =
            message.headers.traceContext.map { tracing.context(parent: $0.parent, state: $0.state) } ?? .topLevel
        return tracing.startSpan("POST", context: context, kind: .client) { attributes in
            attributes = common
            attributes["http.request.method"] = "POST"
            attributes["url.full"] = Self.visible(url)
            attributes["messaging.system"] = messagingSystem
            if let destination = message.metadata["topic"] { attributes["messaging.destination.name"] = destination }
            if let id = message.id { attributes["messaging.message.id"] = id }
        }
    }

    /// A URL without its user information and query: either may hold a secret.
    static func visible(_ url: String) -> String {
        var visible = url
        if let query = visible.firstIndex(of: "?") { visible = String(visible[..<query]) }
        if let scheme = visible.range(of: "://"), let at = visible[scheme.upperBound...].firstIndex(of: "@") {
            visible = String(visible[..<scheme.upperBound]) + visible[visible.index(after: at)...]
        }
        return visible
    }

    /// Starts the consumer span of `message` handed to a client, a child of the message's own trace context (or of
    /// `fallback`'s when it carries none).
    func startDelivery(
        _ message: Message, plan: SecurityChain.ResolvedPlan?, entrypoint: String, fallback: ServiceContext?
    ) -> any Span {
        let destination = message.metadata["topic"] ?? self.destination
        let context =
            message.headers.traceContext.map { tracing.context(parent: $0.parent, state: $0.state) } ?? fallback
            ?? .topLevel
        return tracing.startSpan(
            "process \(destination ?? messagingSystem)", context: context, kind: .consumer
        ) { attributes in
            addCommonAttributes(&attributes, plan: plan, entrypoint: entrypoint)
            attributes["messaging.system"] = messagingSystem
            attributes["messaging.operation.type"] = "process"
            attributes["messaging.operation.name"] = "process"
            if let destination { attributes["messaging.destination.name"] = destination }
            if let id = message.id { attributes["messaging.message.id"] = id }
            attributes["messaging.message.body.size"] = message.content.readableBytes
        }
    }
}

/// One request's or connection's spans: its server span, and the producer and consumer spans of its messages.
final class GatewayRequestTrace: RequestTrace {
    let span: any Span
    let deployment: DeploymentTracing
    let plan: SecurityChain.ResolvedPlan?
    let entrypoint: String

    init(span: any Span, deployment: DeploymentTracing, plan: SecurityChain.ResolvedPlan?, entrypoint: String) {
        self.span = span
        self.deployment = deployment
        self.plan = plan
        self.entrypoint = entrypoint
    }

    func publishing(_ message: inout Message) -> any MessageSpan {
        let (deployment, plan, entrypoint) = (self.deployment, self.plan, self.entrypoint)
        let size = message.content.readableBytes
        let tracing = deployment.tracing
        let producer = tracing.startSpan(
            "send \(deployment.destination ?? deployment.messagingSystem)", context: span.context, kind: .producer
        ) { attributes in
            deployment.addCommonAttributes(&attributes, plan: plan, entrypoint: entrypoint)
            attributes["messaging.system"] = deployment.messagingSystem
            attributes["messaging.operation.type"] = "send"
            attributes["messaging.operation.name"] = "send"
            if let destination = deployment.destination { attributes["messaging.destination.name"] = destination }
            attributes["messaging.message.body.size"] = size
        }
        if let headers = tracing.headers(of: producer) {
            message.headers.setTraceContext(parent: headers.parent, state: headers.state)
        }
        return TracedSpan(span: producer)
    }

    func delivering(_ message: Message) -> any MessageSpan {
        TracedSpan(
            span: deployment.startDelivery(message, plan: plan, entrypoint: entrypoint, fallback: span.context))
    }

    func end(status: Int?, error: String?) {
        if let status {
            span.attributes["http.response.status_code"] = status
            if status >= 500 {
                span.attributes["error.type"] = error ?? String(status)
                span.setStatus(SpanStatus(code: .error, message: error))
            }
        } else if let error {
            span.setStatus(SpanStatus(code: .error, message: error))
        }
        span.end()
    }
}

/// The client spans of a webhook subscription's callback POSTs.
struct WebhookCallbackTracer: CallbackTracer {
    let deployment: DeploymentTracing
    let common: SpanAttributes

    func calling(_ url: String, for message: Message) -> (span: any MessageSpan, parent: String, state: String?) {
        let span = deployment.startCallback(url, for: message, common: common)
        let headers = deployment.tracing.headers(of: span) ?? message.headers.traceContext ?? ("", nil)
        return (TracedSpan(span: span), headers.parent, headers.state)
    }
}

/// A span ended by its entrypoint.
struct TracedSpan: MessageSpan {
    let span: any Span

    func end(error: String?) {
        if let error { span.setStatus(SpanStatus(code: .error, message: error)) }
        span.end()
    }
}
