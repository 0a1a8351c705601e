public import Foundation

/// An application: who subscribes to plans (Gravitee's application).
public struct ManagedApplication: Sendable, Hashable {
    public var id: String
    public var name: String
    public var description: String?
    /// The OAuth2/JWT client id the application's tokens carry; unique among applications when set.
    public var clientID: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64

    public init(
        id: String, name: String, description: String? = nil, clientID: String? = nil,
        createdAt: Date = Date(timeIntervalSince1970: 0), updatedAt: Date = Date(timeIntervalSince1970: 0),
        version: Int64 = 0
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.clientID = clientID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}
