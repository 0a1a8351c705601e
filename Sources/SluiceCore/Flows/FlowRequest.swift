/// What the flow engine looks at in a request: what selects flows and what `#request`, `#subscription` and
/// `#api` show to expressions.
public struct FlowRequest: Sendable {
    /// Who subscribed, as `#subscription` shows it (nil on a key-less plan: `#subscription` is then null).
    public struct Subscription: Sendable {
        public var id: String
        public var applicationID: String?
        public var applicationName: String?
        public var clientID: String?
        public var plan: String
        public var metadata: [String: String]

        public init(
            id: String, applicationID: String? = nil, applicationName: String? = nil, clientID: String? = nil,
            plan: String, metadata: [String: String] = [:]
        ) {
            self.id = id
            self.applicationID = applicationID
            self.applicationName = applicationName
            self.clientID = clientID
            self.plan = plan
            self.metadata = metadata
        }
    }

    /// The request path after the API's context path (`/` or empty for the context path itself).
    public var path: String
    /// The API's context path (`/orders`).
    public var contextPath: String
    public var method: String
    /// The entrypoint serving the request (`http-post`, `http-get`, `sse`, `websocket`).
    public var entrypoint: String
    /// What that entrypoint does: publish, subscribe, or both for a WebSocket.
    public var operations: Set<ConnectorMode>
    public var headers: MessageHeaders
    /// Query parameters, percent-decoded, in order.
    public var query: [(name: String, value: String)]
    public var remoteAddress: String?
    public var localAddress: String?
    public var host: String?
    /// The plan that serves the request.
    public var plan: String
    public var subscription: Subscription?
    /// A fresh identifier for `#request.id` and `#request.transactionId`.
    public var id: String
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64

    public init(
        path: String, contextPath: String = "/", method: String, entrypoint: String,
        operations: Set<ConnectorMode>, headers: MessageHeaders = MessageHeaders(),
        query: [(name: String, value: String)] = [], remoteAddress: String? = nil, localAddress: String? = nil,
        host: String? = nil, plan: String = "key-less", subscription: Subscription? = nil, id: String = "",
        timestamp: Int64 = 0
    ) {
        self.path = path
        self.contextPath = contextPath
        self.method = method
        self.entrypoint = entrypoint
        self.operations = operations
        self.headers = headers
        self.query = query
        self.remoteAddress = remoteAddress
        self.localAddress = localAddress
        self.host = host
        self.plan = plan
        self.subscription = subscription
        self.id = id
        self.timestamp = timestamp
    }

    /// The full request path (context path and path).
    public var fullPath: String {
        if contextPath == "/" { return path.isEmpty ? "/" : path }
        return contextPath + (path == "/" ? "" : path)
    }
}
