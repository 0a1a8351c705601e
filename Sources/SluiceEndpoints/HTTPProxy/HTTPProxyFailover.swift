public import SluiceCore

/// An API's `failover` block, with Gravitee's defaults: each attempt gets `slowCallDuration` to answer, a failed or
/// slow attempt is retried up to `maxRetries` times on the endpoint the load balancer picks next, and a circuit
/// breaker opens after `maxFailures` requests in a row failed that way, for `openStateDuration`.
public struct HTTPProxyFailover: Sendable, Hashable {
    /// Default: false.
    public var enabled = false
    /// Default: 2.
    public var maxRetries = 2
    /// Default: 2,000 ms.
    public var slowCallDurationMs: Int64 = 2_000
    /// Default: 10,000 ms.
    public var openStateDurationMs: Int64 = 10_000
    /// Default: 5.
    public var maxFailures = 5
    /// One circuit breaker per subscription (per client address on key-less plans) rather than one for the API.
    /// Default: true.
    public var perSubscription = true

    public init() {}

    /// Reads the API's `failover` (absent or null: disabled).
    public static func parse(_ definition: APIDefinition, diagnostics: inout DiagnosticCollector) -> HTTPProxyFailover {
        var failover = HTTPProxyFailover()
        guard let value = definition.document["failover"], !value.isNull else { return failover }
        let reader = ConfigurationReader(value, at: JSONPath("failover"), diagnostics: &diagnostics)
        reader.warnUnknown(
            ["enabled", "maxRetries", "slowCallDuration", "openStateDuration", "maxFailures", "perSubscription"],
            &diagnostics)
        if let enabled = reader.bool("enabled", &diagnostics) { failover.enabled = enabled }
        if let value = reader.integer("maxRetries", &diagnostics, minimum: 0, maximum: 100) {
            failover.maxRetries = Int(value)
        }
        if let value = reader.integer("slowCallDuration", &diagnostics, minimum: 1) {
            failover.slowCallDurationMs = value
        }
        if let value = reader.integer("openStateDuration", &diagnostics, minimum: 1) {
            failover.openStateDurationMs = value
        }
        if let value = reader.integer("maxFailures", &diagnostics, minimum: 1, maximum: 10_000) {
            failover.maxFailures = Int(value)
        }
        if let value = reader.bool("perSubscription", &diagnostics) { failover.perSubscription = value }
        return failover
    }
}
