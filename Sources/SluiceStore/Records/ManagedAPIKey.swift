public import Foundation
public import SluiceCore

/// An API key of an application. The store holds only the SHA-256 digest of the key: whoever creates a key shows
/// its value once, and nobody can read it back.
public struct ManagedAPIKey: Sendable {
    public var id: String
    public var applicationID: String
    /// The digest of the key; unique among keys.
    public var hash: APIKeyHash
    /// The subscriptions the key carries (at least one).
    public var subscriptions: [String]
    public var expireAt: Date?
    public var revoked: Bool
    /// When the key was revoked; set by the store when `revoked` becomes true.
    public var revokedAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64

    public init(
        id: String, applicationID: String, hash: APIKeyHash, subscriptions: [String], expireAt: Date? = nil,
        revoked: Bool = false, revokedAt: Date? = nil, createdAt: Date = Date(timeIntervalSince1970: 0),
        updatedAt: Date = Date(timeIntervalSince1970: 0), version: Int64 = 0
    ) {
        self.id = id
        self.applicationID = applicationID
        self.hash = hash
        self.subscriptions = subscriptions
        self.expireAt = expireAt
        self.revoked = revoked
        self.revokedAt = revokedAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}
