public import SluiceCore

/// Whether an endpoint reaches what it stands for (a broker, backends), for the gateway's readiness.
public struct EndpointHealth: Sendable, Equatable {
    public var reachable: Bool
    /// What was found, for the readiness answer's details.
    public var detail: String

    public init(reachable: Bool, detail: String) {
        self.reachable = reachable
        self.detail = detail
    }
}

/// An endpoint that can say whether its broker or backends are reachable now.
public protocol EndpointHealthChecking: Sendable {
    /// Checks now; may connect (a broker not connected yet), within a short time.
    func checkHealth() async -> EndpointHealth
    /// Whether the connection to the broker is up, read without waiting; nil before the endpoint has needed one.
    var connectedNow: Bool? { get }
}
