public import Foundation

/// An application's subscription to a plan of an API.
public struct ManagedSubscription: Sendable, Hashable {
    public enum Status: String, Sendable, CaseIterable, Codable {
        case accepted = "ACCEPTED"
        case pending = "PENDING"
        case paused = "PAUSED"
        case rejected = "REJECTED"
        case closed = "CLOSED"
    }

    public var id: String
    public var applicationID: String
    public var apiID: String
    public var planID: String
    public var status: Status
    public var startingAt: Date?
    public var endingAt: Date?
    public var metadata: [String: String]
    /// A push subscription's `configuration` (the webhook's callback, headers, authentication…), a JSON object;
    /// nil for other subscriptions.
    public var configuration: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int64

    public init(
        id: String, applicationID: String, apiID: String, planID: String, status: Status = .pending,
        startingAt: Date? = nil, endingAt: Date? = nil, metadata: [String: String] = [:], configuration: String? = nil,
        createdAt: Date = Date(timeIntervalSince1970: 0), updatedAt: Date = Date(timeIntervalSince1970: 0),
        version: Int64 = 0
    ) {
        self.id = id
        self.applicationID = applicationID
        self.apiID = apiID
        self.planID = planID
        self.status = status
        self.startingAt = startingAt
        self.endingAt = endingAt
        self.metadata = metadata
        self.configuration = configuration
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}
