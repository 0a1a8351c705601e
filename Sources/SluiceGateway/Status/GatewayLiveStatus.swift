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
