import Logging
public import SluiceCore
import SluiceEndpoints
public import SluiceEntrypoints

/// One API as it runs: its definition, its connectors, and the streams open on it.
public final class Deployment: Sendable {
    public let definition: APIDefinition
    public let source: String
    let endpoint: any EndpointConnector
    /// The endpoint again when it takes messages at once, for the event-loop path (looked up once, here).
    let synchronousPublisher: (any SynchronousPublishing)?
    /// The endpoint again when it reports a publish's outcome through a callback (a broker), for the same path.
    let callbackPublisher: (any CallbackPublishing)?
    /// The endpoint again when it is the embedded log, whose streams the event-loop path serves.
    let inMemoryEndpoint: InMemoryEndpoint?
    let security: SecurityChain
    /// How every request resolves when no plan reads credentials (key-less plans only): decided once, here.
    let credentialFreeResolution: Result<SecurityChain.ResolvedPlan, GatewayError>?
    /// Whether a publish can be served on the event loop as far as the API goes: it has an `http-post` entrypoint,
    /// and no flow steps, CORS or logging conditions (which need the request's expression scope).
    let publishesOnEventLoop: Bool
    /// Where requests carry an API key (the gateway's settings).
    let apiKeyFields: APIKeyFields
    /// The rate-limit, quota and spike-arrest steps of its flows; nil when it has none.
    let rateLimits: RateLimitRules?
    /// The JWT and OAuth2 plans, when the API has any.
    let bearer: BearerPlans?
    /// The flows' other steps, compiled; nil when there is nothing for the flow engine to run (such an API keeps
    /// the event loop's fast paths).
    let flows: FlowEngine?
    /// `#api` in expressions outside the flows (the message log's conditions).
    let api: ExpressionValue
    // Each entrypoint with what it needs per request, built once at deploy time.
    let httpPost: BoundEntrypoint<HTTPPostEntrypoint>?
    let httpGet: BoundEntrypoint<HTTPGetEntrypoint>?
    let sse: BoundEntrypoint<SSEEntrypoint>?
    let webSocket: BoundEntrypoint<WebSocketEntrypoint>?
    /// The `http-proxy` entrypoint of a proxy API, with its endpoint group.
    let httpProxy: HTTPProxyEntrypoint?
    /// The HTTP listener's CORS settings, when enabled.
    let cors: CORSConfiguration?
    /// The `webhook` entrypoint, when the API has a subscription listener with one.
    let webhook: WebhookBinding?
    public let streams: LiveStreams
    /// Its labels and metric series, and the access log.
    let observation: DeploymentObservation

    public var id: String { definition.id }

    /// Releases the endpoint's connections (and the DLQ endpoint's).
    func stopConnectors() async {
        await endpoint.stop()
        await webhook?.deadLetters?.stop()
    }

    /// For a proxy API: whether its requests are forwarded right from the event loops, and how many have been.
    public var proxyEventLoopExchanges: Int? {
        guard let group = httpProxy?.group, group.servesFromEventLoop else { return nil }
        return group.primaries.reduce(0) { $0 + ($1.endpoint.connections?.exchangeCount ?? 0) }
    }

    init(
        definition: APIDefinition, source: String, endpoint: any EndpointConnector, streams: LiveStreams,
        limits: GatewayLimits, bearer: BearerPlans? = nil, apiKeyFields: APIKeyFields = .gravitee,
        webhook: WebhookBinding? = nil, observability: GatewayObservability? = nil, messageLog: MessageLog? = nil,
        logger: Logger
    ) {
        self.observation = DeploymentObservation(
            definition: definition, observability: observability, apiKeyQueryParameter: apiKeyFields.queryParameter,
            apiKeyHeader: apiKeyFields.lowercasedHeader, messageLog: messageLog)
        self.webhook = webhook
        self.apiKeyFields = apiKeyFields
        self.definition = definition
        self.source = source
        self.endpoint = endpoint
        self.synchronousPublisher = endpoint as? any SynchronousPublishing
        self.callbackPublisher = endpoint as? any CallbackPublishing
        self.inMemoryEndpoint = endpoint as? InMemoryEndpoint
        self.streams = streams
        self.cors = definition.cors
        let security = SecurityChain(plans: definition.plans)
        self.security = security
        self.credentialFreeResolution = security.readsCredentials ? nil : security.resolve(api: definition.id)
        self.bearer = bearer
        var diagnostics = DiagnosticCollector()
        let rules = RateLimitRules(definition, diagnostics: &diagnostics)
        self.rateLimits = rules.isEmpty ? nil : rules
        let engine = FlowEngine(definition, diagnostics: &diagnostics)
        self.flows = engine.isEmpty ? nil : engine
        self.api = engine.api
        var post: BoundEntrypoint<HTTPPostEntrypoint>?
        var get: BoundEntrypoint<HTTPGetEntrypoint>?
        var sse: BoundEntrypoint<SSEEntrypoint>?
        var webSocket: BoundEntrypoint<WebSocketEntrypoint>?
        var httpProxy: HTTPProxyEntrypoint?
        let apiID = definition.id
        func invocation(_ qos: MessageQoS) -> EntrypointInvocation {
            var invocation = EntrypointInvocation(
                apiID: apiID, endpoint: endpoint, qos: qos, limits: limits, streams: streams, logger: logger)
            invocation.apiKeyHeader = apiKeyFields.header
            return invocation
        }
        // The definition was validated before it got here, so parsing cannot fail; the first entrypoint of a type wins.
        for entrypoint in definition.httpEntrypoints {
            let path = entrypoint.path.key("configuration")
            switch entrypoint.type {
            case HTTPPostEntrypoint.type where post == nil:
                post = BoundEntrypoint(
                    .init(configuration: .parse(entrypoint.configuration, at: path, diagnostics: &diagnostics)),
                    invocation(entrypoint.qos))
            case HTTPGetEntrypoint.type where get == nil:
                get = BoundEntrypoint(
                    .init(configuration: .parse(entrypoint.configuration, at: path, diagnostics: &diagnostics)),
                    invocation(entrypoint.qos))
            case SSEEntrypoint.type where sse == nil:
                sse = BoundEntrypoint(
                    .init(configuration: .parse(entrypoint.configuration, at: path, diagnostics: &diagnostics)),
                    invocation(entrypoint.qos))
            case WebSocketEntrypoint.type where webSocket == nil:
                webSocket = BoundEntrypoint(
                    .init(configuration: .parse(entrypoint.configuration, at: path, diagnostics: &diagnostics)),
                    invocation(entrypoint.qos))
            case HTTPProxyEntrypoint.type where httpProxy == nil:
                if let group = endpoint as? HTTPProxyGroup {
                    httpProxy = HTTPProxyEntrypoint(
                        configuration: .parse(entrypoint.configuration, at: path, diagnostics: &diagnostics),
                        group: group, limits: limits)
                }
            default:
                break
            }
        }
        self.httpPost = post
        self.publishesOnEventLoop =
            post != nil && flows == nil && cors == nil && observation.messageLog?.hasConditions != true
        self.httpGet = get
        self.sse = sse
        self.webSocket = webSocket
        self.httpProxy = httpProxy
    }

    /// Builds the connectors of a validated definition.
    static func make(
        definition: APIDefinition, source: String, broker: InMemoryBroker, streams: LiveStreams,
        limits: GatewayLimits, security: SecuritySettings = .init(), observability: GatewayObservability? = nil,
        logger: Logger
    ) throws -> Deployment {
        var bearer: BearerPlans?
        var problems: [Diagnostic] = []
        let messageLog = MessageLog.parse(definition.analytics, diagnostics: &problems)
        if !problems.isEmpty { throw DeploymentError(apiID: definition.id, diagnostics: problems) }
        let chain = SecurityChain(plans: definition.plans)
        if chain.hasBearerPlans {
            var planLogger = logger
            planLogger[metadataKey: "api"] = "\(definition.id)"
            do {
                bearer = try BearerPlans(
                    plans: definition.plans, resources: definition.resources, settings: security,
                    selectionRules: chain.selectionRules, logger: planLogger)
            } catch let error as DeploymentError {
                throw DeploymentError(apiID: definition.id, diagnostics: error.diagnostics)
            }
        }
        var group: [(connector: any EndpointConnector, weight: Int)] = []
        guard let firstGroup = definition.endpointGroups.first else {
            throw DeploymentError(
                apiID: definition.id, diagnostics: [Diagnostic(path: "endpointGroups", message: "no endpoint group")])
        }
        if firstGroup.type == "http-proxy" {
            return Deployment(
                definition: definition, source: source,
                endpoint: try makeProxyGroup(definition: definition, group: firstGroup), streams: streams,
                limits: limits, observability: observability, messageLog: messageLog, logger: logger)
        }
        for endpoint in firstGroup.endpoints where !endpoint.secondary {
            group.append(
                (
                    try makeConnector(
                        endpoint: endpoint, group: firstGroup, definition: definition, broker: broker, logger: logger),
                    endpoint.weight
                ))
        }
        let endpoint: any EndpointConnector =
            group.count == 1
            ? group[0].connector : EndpointGroupConnector(members: group, loadBalancer: firstGroup.loadBalancer)
        let webhook = try makeWebhookBinding(definition: definition, broker: broker, logger: logger)
        return Deployment(
            definition: definition, source: source, endpoint: endpoint, streams: streams, limits: limits,
            bearer: bearer, apiKeyFields: APIKeyFields(security.apiKeyNames), webhook: webhook,
            observability: observability, messageLog: messageLog, logger: logger
        )
    }

    /// The connector of one endpoint of a message API.
    static func makeConnector(
        endpoint: APIDefinition.Endpoint, group: APIDefinition.EndpointGroup, definition: APIDefinition,
        broker: InMemoryBroker, logger: Logger
    ) throws -> any EndpointConnector {
        var diagnostics = DiagnosticCollector()
        let path = endpoint.path.key("configuration")
        var endpointLogger = logger
        endpointLogger[metadataKey: "api"] = "\(definition.id)"
        switch endpoint.type {
        case "mock":
            return MockEndpoint(configuration: .parse(endpoint.configuration, at: path, diagnostics: &diagnostics))
        case "inmemory":
            return InMemoryEndpoint(
                configuration: .parse(
                    endpoint.configuration, at: path, defaultTopic: definition.id, diagnostics: &diagnostics),
                broker: broker
            )
        case "kafka":
            let configuration = KafkaEndpointConfiguration.parse(
                endpoint: endpoint, group: group, diagnostics: &diagnostics)
            return KafkaEndpoint(
                configuration: try valid(configuration, diagnostics, api: definition.id), logger: endpointLogger)
        case "mqtt5":
            let configuration = MQTT5EndpointConfiguration.parse(
                endpoint: endpoint, group: group, diagnostics: &diagnostics)
            return MQTT5Endpoint(
                configuration: try valid(configuration, diagnostics, api: definition.id), logger: endpointLogger)
        default:
            throw DeploymentError(
                apiID: definition.id,
                diagnostics: [
                    Diagnostic(
                        path: endpoint.path.key("type").text,
                        message: "endpoint type '\(endpoint.type)' is not supported", code: "UNSUPPORTED_TYPE")
                ]
            )
        }
    }

    /// A parsed endpoint configuration, or the error naming what kept it from parsing.
    private static func valid<Configuration>(
        _ configuration: Configuration?, _ diagnostics: DiagnosticCollector, api: String
    ) throws -> Configuration {
        guard let configuration else {
            throw DeploymentError(apiID: api, diagnostics: diagnostics.diagnostics.filter { $0.severity == .error })
        }
        return configuration
    }

    /// The `webhook` entrypoint of a subscription listener, with its DLQ endpoint's connector.
    static func makeWebhookBinding(
        definition: APIDefinition, broker: InMemoryBroker, logger: Logger
    ) throws -> WebhookBinding? {
        guard let entrypoint = definition.subscriptionEntrypoints.first(where: { $0.type == WebhookEntrypoint.type })
        else { return nil }
        var diagnostics = DiagnosticCollector()
        let configuration = WebhookEntrypoint.Configuration.parse(
            entrypoint.configuration, at: entrypoint.path.key("configuration"),
            hasDeadLetterQueue: entrypoint.dlqEndpoint != nil, diagnostics: &diagnostics)
        var deadLetters: (any EndpointConnector)?
        if let name = entrypoint.dlqEndpoint, let target = DefinitionCatalog.deadLetterTarget(name, in: definition) {
            deadLetters = try makeConnector(
                endpoint: target.endpoint, group: target.group, definition: definition, broker: broker, logger: logger)
        }
        return WebhookBinding(configuration: configuration, qos: entrypoint.qos, deadLetters: deadLetters)
    }

    /// The endpoints of a proxy API's first group (secondary ones included: failover turns to them), with the API's
    /// failover.
    static func makeProxyGroup(
        definition: APIDefinition, group: APIDefinition.EndpointGroup
    ) throws -> HTTPProxyGroup {
        var diagnostics = DiagnosticCollector()
        var members: [HTTPProxyGroup.Member] = []
        for endpoint in group.endpoints {
            guard
                let configuration = HTTPProxyEndpointConfiguration.parse(
                    endpoint: endpoint, group: group, diagnostics: &diagnostics)
            else {
                throw DeploymentError(
                    apiID: definition.id, diagnostics: diagnostics.diagnostics.filter { $0.severity == .error })
            }
            members.append(
                .init(
                    endpoint: HTTPProxyEndpoint(name: endpoint.name, configuration: configuration),
                    weight: endpoint.weight, secondary: endpoint.secondary))
        }
        return HTTPProxyGroup(
            members: members, loadBalancer: group.loadBalancer,
            failover: HTTPProxyFailover.parse(definition, diagnostics: &diagnostics))
    }
}

/// An entrypoint of a deployment with what it needs per request, held by reference so that each request
/// costs one retain.
final class BoundEntrypoint<Entrypoint: Sendable>: Sendable {
    let entrypoint: Entrypoint
    let invocation: EntrypointInvocation

    init(_ entrypoint: Entrypoint, _ invocation: EntrypointInvocation) {
        self.entrypoint = entrypoint
        self.invocation = invocation
    }
}

/// A deployment's `webhook` entrypoint: what every webhook subscription to the API runs with.
struct WebhookBinding: Sendable {
    var configuration: WebhookEntrypoint.Configuration
    var qos: MessageQoS
    /// Where undeliverable messages go (the entrypoint's `dlq.endpoint`).
    var deadLetters: (any EndpointConnector)?
}

/// A definition that could not be deployed, with the reasons.
public struct DeploymentError: Error, Sendable, CustomStringConvertible {
    public var apiID: String
    public var diagnostics: [Diagnostic]

    public var description: String {
        "API '\(apiID)' not deployed: " + diagnostics.map(\.description).joined(separator: "; ")
    }
}
