public import SluiceCore

/// How the management API runs.
public struct ManagementConfiguration: Sendable {
    /// Default: 0.0.0.0.
    public var host = "0.0.0.0"
    /// 0 picks a free port. Default: 8083.
    public var port = 8083
    /// Larger bodies are refused with 413. Default: 8 MiB.
    public var maxRequestBodyBytes = 8 << 20
    /// Which callback URLs webhook subscriptions may name: the gateway's policy, so that what the API accepts the
    /// gateway delivers to. Default: any host.
    public var callbackPolicy = WebhookCallbackPolicy()
    /// The connectors definitions may use: the gateway's. Default: `.gateway`.
    public var catalog = DefinitionCatalog.gateway
    /// The first admin's token; nil generates one at first start. Default: nil.
    public var adminToken: String?
    /// How long a bearer token's answer is remembered. Default: 1 s.
    public var tokenCacheLifetime = Duration.seconds(1)

    public init() {}
}
