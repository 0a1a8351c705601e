public import SluiceCore

/// What a running gateway tells of its deployed APIs right now: per API, its endpoints' connection states, its open
/// stream connections and its cumulative counters, as the gateway's metrics count them.
public struct GatewayLiveStatus: Sendable, Hashable {
    /// One deployed API.
    public struct API: Sendable, Hashable {
        public var id: String
        public var name: String
        /// The definition deployed (a v4 JSON document).
        public var definition: JSONValue
        /// Each endpoint's connection state, in the definition's order.
        public var endpoints: [EndpointState]
        public var openConnections: Int64
        public var counters: StatusCounters

        public init(
            id: String, name: String, definition: JSONValue, endpoints: [EndpointState], openConnections: Int64,
            counters: StatusCounters
        ) {
            self.id = id
            self.name = name
            self.definition = definition
            self.endpoints = endpoints
            self.openConnections = openConnections
            self.counters = counters
        }
    }

    /// An endpoint of a deployed API and the state of its connection.
    public struct EndpointState: Sendable, Hashable {
        public enum Connection: String, Sendable, Hashable {
            /// A broker endpoint with a connection to its broker.
            case connected
            /// A broker endpoint that lost, or could not make, its connection.
            case disconnected
            /// A broker endpoint that has not needed a connection yet.
            case idle
            /// An http-proxy group whose every circuit breaker is open.
            case circuitOpen = "circuit-open"
            /// An http-proxy group with a closed circuit.
            case ready
            /// The embedded log or the mock: nothing to connect to.
            case embedded
        }

        public var name: String
        public var type: String
        public var connection: Connection

        public init(name: String, type: String, connection: Connection) {
            self.name = name
            self.type = type
            self.connection = connection
        }
    }

    public var apis: [API]
    /// SSE and WebSocket connections open on the gateway now, all APIs together.
    public var openStreams: Int
    /// The node's identifier (`nodeId`, else host and port).
    public var node: String

    public init(apis: [API], openStreams: Int, node: String) {
        self.apis = apis
        self.openStreams = openStreams
        self.node = node
    }
}

/// The cumulative counters of one API since the process started (a redeployment continues them).
public struct StatusCounters: Sendable, Hashable {
    /// Requests and streams answered (a stream counts when it ends).
    public var requests: Int64 = 0
    /// Requests answered with a 5xx status.
    public var serverErrors: Int64 = 0
    /// Requests refused with 429 by a rate limit, quota or spike arrest.
    public var rateLimited: Int64 = 0
    /// Messages clients published that the endpoint took.
    public var messagesIn: Int64 = 0
    /// Messages sent to consumers.
    public var messagesOut: Int64 = 0
    /// Publishes the endpoint refused or could not take.
    public var messageErrors: Int64 = 0
    /// Messages a flow left out.
    public var messagesFiltered: Int64 = 0
    /// Request body bytes received.
    public var bytesIn: Int64 = 0
    /// Response body bytes sent, stream events included.
    public var bytesOut: Int64 = 0

    public init() {}

    /// The counters by their JSON names, in the order the status JSON lists them.
    public static var fields: [(name: String, keyPath: WritableKeyPath<StatusCounters, Int64>)] {
        [
            ("requests", \.requests), ("serverErrors", \.serverErrors), ("rateLimited", \.rateLimited),
            ("messagesIn", \.messagesIn), ("messagesOut", \.messagesOut), ("messageErrors", \.messageErrors),
            ("messagesFiltered", \.messagesFiltered), ("bytesIn", \.bytesIn), ("bytesOut", \.bytesOut),
        ]
    }
}

extension StatusCounters {
    /// The counters as a JSON object.
    public var json: JSONValue {
        .object(JSONObject(Self.fields.map { ($0.name, .number(Double(self[keyPath: $0.keyPath]))) }))
    }

    /// Reads the counters of a JSON object; nil when it is not one. A missing or non-numeric field reads as 0.
    public init?(json: JSONValue?) {
        guard let object = json?.objectValue else { return nil }
        self.init()
        for field in Self.fields {
            if case .number(let value)? = object[field.name], value.isFinite, value >= 0, value < 9e18 {
                self[keyPath: field.keyPath] = Int64(value)
            }
        }
    }
}
