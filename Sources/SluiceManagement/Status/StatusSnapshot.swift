public import SluiceCore
public import SluiceGateway

/// What `GET /management/v2/status` answers: the APIs of the store with their entrypoints and endpoints and, when
/// a gateway runs in the same process, their live numbers. Counters are cumulative; a client computes rates from
/// two snapshots and their timestamps (``StatusRates``).
public struct StatusSnapshot: Sendable, Hashable {
    /// One API.
    public struct API: Sendable, Hashable {
        public var id: String
        public var name: String
        /// The store's lifecycle state: `STARTED` or `STOPPED`.
        public var state: String
        /// Whether the gateway of this process serves it now (false without a gateway).
        public var deployed: Bool
        public var entrypoints: [Entrypoint]
        public var endpoints: [Endpoint]
        /// SSE and WebSocket connections open now; nil without live numbers.
        public var openConnections: Int64?
        /// nil without live numbers.
        public var counters: StatusCounters?

        public init(
            id: String, name: String, state: String, deployed: Bool, entrypoints: [Entrypoint],
            endpoints: [Endpoint], openConnections: Int64? = nil, counters: StatusCounters? = nil
        ) {
            self.id = id
            self.name = name
            self.state = state
            self.deployed = deployed
            self.entrypoints = entrypoints
            self.endpoints = endpoints
            self.openConnections = openConnections
            self.counters = counters
        }
    }

    /// An entrypoint and the paths of its listener (none for a subscription listener's webhook).
    public struct Entrypoint: Sendable, Hashable {
        public var type: String
        public var paths: [String]
        public init(type: String, paths: [String]) {
            self.type = type
            self.paths = paths
        }
    }

    /// An endpoint and its connection state; `state` is nil when no gateway here serves the API.
    public struct Endpoint: Sendable, Hashable {
        public var name: String
        public var type: String
        /// `connected`, `disconnected`, `idle`, `circuit-open`, `ready` or `embedded`.
        public var state: String?
        public init(name: String, type: String, state: String?) {
            self.name = name
            self.type = type
            self.state = state
        }
    }

    /// Milliseconds since 1970 when the snapshot was taken.
    public var timestampMs: Int64
    /// Whether a gateway runs in this process (`serve --role all`); without one, no live numbers.
    public var gatewayRunning: Bool
    /// The gateway's node identifier, when one runs.
    public var node: String?
    /// SSE and WebSocket connections open on the gateway, all APIs together; nil without a gateway.
    public var openStreams: Int?
    public var apis: [API]
    /// Whether the store holds more APIs than the snapshot lists.
    public var truncated: Bool

    public init(
        timestampMs: Int64, gatewayRunning: Bool, node: String? = nil, openStreams: Int? = nil, apis: [API],
        truncated: Bool = false
    ) {
        self.timestampMs = timestampMs
        self.gatewayRunning = gatewayRunning
        self.node = node
        self.openStreams = openStreams
        self.apis = apis
        self.truncated = truncated
    }

    /// What the snapshot says of the gateway, for people.
    public static let noGatewayDetail =
        "no gateway runs in this process (serve --role management): APIs from the store, no live numbers"
}

extension StatusSnapshot.Entrypoint {
    /// The entrypoints of a v4 definition (JSON), with their listener's paths, in the definition's order.
    static func of(definition: JSONValue) -> [Self] {
        var entrypoints: [Self] = []
        for listener in definition["listeners"]?.arrayValue ?? [] {
            let paths = (listener["paths"]?.arrayValue ?? []).compactMap { path -> String? in
                guard let text = path["path"]?.stringValue else { return nil }
                return path["host"]?.stringValue.map { "\($0)\(text)" } ?? text
            }
            for entrypoint in listener["entrypoints"]?.arrayValue ?? [] {
                guard let type = entrypoint["type"]?.stringValue else { continue }
                entrypoints.append(Self(type: type, paths: paths))
            }
        }
        return entrypoints
    }
}

extension StatusSnapshot.Endpoint {
    /// The endpoints of a v4 definition's first group (the one the gateway serves), primary ones first.
    static func of(definition: JSONValue) -> [Self] {
        guard let group = definition["endpointGroups"]?.arrayValue?.first else { return [] }
        let groupType = group["type"]?.stringValue ?? "unknown"
        let endpoints = group["endpoints"]?.arrayValue ?? []
        let primary = endpoints.filter { $0["secondary"]?.boolValue != true }
        return primary.map {
            Self(
                name: $0["name"]?.stringValue ?? groupType, type: $0["type"]?.stringValue ?? groupType, state: nil)
        }
    }
}
