public import Foundation

/// Who may call which API: applications, their subscriptions to plans, and the API keys that carry them, as read
/// from the access files next to the API definitions (see ``AccessFileReader``).
public struct AccessData: Sendable {
    public struct Application: Sendable, Hashable {
        public var id: String
        public var name: String
        public var clientID: String?

        public init(id: String, name: String, clientID: String? = nil) {
            self.id = id
            self.name = name
            self.clientID = clientID
        }
    }

    public struct Subscription: Sendable, Hashable {
        public enum Status: String, Sendable, CaseIterable {
            case accepted = "ACCEPTED"
            case paused = "PAUSED"
            case pending = "PENDING"
            case rejected = "REJECTED"
            case closed = "CLOSED"
        }

        public var id: String
        public var application: String
        public var api: String
        public var plan: String
        public var status: Status
        public var startingAt: Date?
        public var endingAt: Date?
        public var metadata: [String: String]
        /// The push configuration of a subscription to a `webhook` entrypoint (its `configuration`); nil for others.
        public var webhook: WebhookSubscriptionConfiguration?

        public init(
            id: String, application: String, api: String, plan: String, status: Status, startingAt: Date? = nil,
            endingAt: Date? = nil, metadata: [String: String] = [:], webhook: WebhookSubscriptionConfiguration? = nil
        ) {
            self.id = id
            self.application = application
            self.api = api
            self.plan = plan
            self.status = status
            self.startingAt = startingAt
            self.endingAt = endingAt
            self.metadata = metadata
            self.webhook = webhook
        }

        /// Whether the subscription lets traffic through at `now`: accepted, and inside its time window.
        public func isActive(at now: Date) -> Bool {
            guard status == .accepted else { return false }
            if let startingAt, now < startingAt { return false }
            if let endingAt, now >= endingAt { return false }
            return true
        }
    }

    /// An API key, held only as the SHA-256 digest of its value.
    public struct APIKey: Sendable {
        public var hash: APIKeyHash
        public var subscriptions: [String]
        public var expireAt: Date?
        public var revoked: Bool

        public init(hash: APIKeyHash, subscriptions: [String], expireAt: Date? = nil, revoked: Bool = false) {
            self.hash = hash
            self.subscriptions = subscriptions
            self.expireAt = expireAt
            self.revoked = revoked
        }

        public func isUsable(at now: Date) -> Bool {
            if revoked { return false }
            if let expireAt, now >= expireAt { return false }
            return true
        }
    }

    public var applications: [Application] = []
    public var subscriptions: [Subscription] = []
    public var apiKeys: [APIKey] = []

    public init(applications: [Application] = [], subscriptions: [Subscription] = [], apiKeys: [APIKey] = []) {
        self.applications = applications
        self.subscriptions = subscriptions
        self.apiKeys = apiKeys
    }

    /// The data of several files together, in the order given.
    public static func merging(_ parts: [AccessData]) -> AccessData {
        var merged = AccessData()
        for part in parts {
            merged.applications += part.applications
            merged.subscriptions += part.subscriptions
            merged.apiKeys += part.apiKeys
        }
        return merged
    }
}
