/// What the rate-limit steps look at in a request.
public struct RateLimitRequest: Sendable {
    public var api: String
    public var plan: SecurityChain.ResolvedPlan
    /// The client's IP address: key-less plans count per address.
    public var clientAddress: String?
    /// The request path after the API's context path (`/` or empty for the context path itself).
    public var path: Substring
    public var method: String
    /// The entrypoint serving the request (`http-post`, `http-get`, `sse`, `websocket`).
    public var entrypoint: String
    /// What that entrypoint does: publish, subscribe, or both for a WebSocket.
    public var operations: Set<ConnectorMode>

    public init(
        api: String, plan: SecurityChain.ResolvedPlan, clientAddress: String?, path: Substring, method: String,
        entrypoint: String, operations: Set<ConnectorMode>
    ) {
        self.api = api
        self.plan = plan
        self.clientAddress = clientAddress
        self.path = path
        self.method = method
        self.entrypoint = entrypoint
        self.operations = operations
    }
}
