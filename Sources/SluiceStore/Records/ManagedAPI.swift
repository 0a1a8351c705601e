public import Foundation

/// An API as the management store holds it: its Gravitee v4 definition as JSON text and its lifecycle.
///
/// The definition's own `plans` are not what a gateway serves: plans are rows of their own (``ManagedPlan``), and
/// the gateway merges the API's PUBLISHED and DEPRECATED plans into the definition it deploys.
public struct ManagedAPI: Sendable, Hashable {
    /// Gravitee's `lifecycleState` of a v4 API: whether gateways serve it.
    public enum LifecycleState: String, Sendable, CaseIterable, Codable {
        case started = "STARTED"
        case stopped = "STOPPED"
    }

    public var id: String
    public var name: String
    /// The Gravitee v4 definition, a JSON object. Its `id`, when present, is this API's id.
    public var definition: String
    /// Default: STOPPED (a new API serves nothing until started).
    public var lifecycleState: LifecycleState
    /// How many times the API was deployed; the management API raises it on each deployment.
    public var deploymentRevision: Int64
    /// Set by the store.
    public var createdAt: Date
    /// Set by the store.
    public var updatedAt: Date
    /// The optimistic-concurrency counter: 1 on creation, raised by every update. Set by the store.
    public var version: Int64

    public init(
        id: String, name: String, definition: String, lifecycleState: LifecycleState = .stopped,
        deploymentRevision: Int64 = 0, createdAt: Date = Date(timeIntervalSince1970: 0),
        updatedAt: Date = Date(timeIntervalSince1970: 0), version: Int64 = 0
    ) {
        self.id = id
        self.name = name
        self.definition = definition
        self.lifecycleState = lifecycleState
        self.deploymentRevision = deploymentRevision
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}
