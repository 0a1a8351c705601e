public import HTTPTypes
public import Logging
public import SluiceCore

/// Everything an entrypoint needs to serve one request of a deployed API.
public struct EntrypointInvocation: Sendable {
    public var apiID: String
    public var endpoint: any EndpointConnector
    public var qos: MessageQoS
    public var limits: GatewayLimits
    /// The live streams of this deployment, so they can be closed when it goes away or the gateway drains.
    public var streams: LiveStreams
    /// What let this request in, for a stream to be checked against while it runs (nil: nothing to re-check).
    public var grant: StreamGrant?
    public var logger: Logger
    /// Headers every response to this request carries, set by the gateway before the entrypoint runs (rate-limit,
    /// quota and spike-arrest headers). Default: none.
    public var responseHeaders: HTTPFields = [:]
    /// The request's run through its API's flows, when the API has steps the flow engine runs: its request phase
    /// has passed; the entrypoint runs each message through the publish or subscribe phase. Default: none.
    public var flow: FlowRun?
    /// The header that carries an API key: removed before the endpoint unless the plan propagates it.
    /// Default: Gravitee's, `X-Gravitee-Api-Key`.
    public var apiKeyHeader = HTTPField.Name(SecurityChain.apiKeyHeader)!
    /// Told of each message taken or given (metrics, message logging). Default: none.
    public var observer: (any MessageObserver)?
    /// The spans of this request, when the gateway traces. Default: none (no tracing work at all).
    public var trace: (any RequestTrace)?

    public init(
        apiID: String, endpoint: any EndpointConnector, qos: MessageQoS, limits: GatewayLimits,
        streams: LiveStreams, logger: Logger
    ) {
        self.apiID = apiID
        self.endpoint = endpoint
        self.qos = qos
        self.limits = limits
        self.streams = streams
        self.logger = logger
    }

    /// `fields` and the ``responseHeaders``.
    public func headers(_ fields: HTTPFields = [:]) -> HTTPFields {
        guard !responseHeaders.isEmpty else { return fields }
        var all = fields
        all.append(contentsOf: responseHeaders)
        return all
    }
}
