public import Foundation
public import SluiceCore

/// Someone who may call the management API, with the digest of their bearer token.
public struct ManagementUser: Sendable {
    public enum Role: String, Sendable, CaseIterable, Codable {
        /// Reads and changes everything.
        case admin = "ADMIN"
        /// Reads everything, changes nothing.
        case readOnly = "READ_ONLY"
    }

    public var id: String
    /// Unique among users.
    public var name: String
    public var role: Role
    /// The SHA-256 digest of the user's bearer token (the token itself is never stored); unique among users.
    public var tokenHash: APIKeyHash
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64

    public init(
        id: String, name: String, role: Role, tokenHash: APIKeyHash, createdAt: Date = Date(timeIntervalSince1970: 0),
        updatedAt: Date = Date(timeIntervalSince1970: 0), version: Int64 = 0
    ) {
        self.id = id
        self.name = name
        self.role = role
        self.tokenHash = tokenHash
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}
