/// Bounds on what one client may send or hold open. Each has a default that suits a public gateway; an
/// operator sets them in the settings file or with `SLUICE_LIMITS_*` variables.
public struct GatewayLimits: Sendable, Hashable {
    /// Largest request body accepted (http-post). Larger gives 413. Default: 1 MiB.
    public var maxRequestBodyBytes: Int = 1 << 20
    /// Largest WebSocket message accepted. Larger closes the socket with 1009. Default: 1 MiB.
    public var maxMessageBytes: Int = 1 << 20
    /// Largest request head (request line and headers). Larger gives 431. Default: 16 KiB.
    public var maxHeaderBytes: Int = 16 << 10
    /// Most SSE and WebSocket connections open at once across the gateway. More gives 503. Default: 20,000.
    public var maxStreamingConnections: Int = 20_000
    /// Largest `limit` a GET poll may ask for. Default: 1,000.
    public var maxPollMessages: Int = 1_000
    /// Most rate-limit, quota and spike-arrest counters held at once (expired ones are dropped). A new counter
    /// beyond that is not counted, and its step's `errorStrategy` decides. Default: 100,000.
    public var maxRateLimitCounters: Int = 100_000

    public init() {}
}
