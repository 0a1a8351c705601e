public import Foundation
import Synchronization

/// The access data in force, indexed for the security chain: immutable, replaced whole when an access file changes.
public final class AccessSnapshot: Sendable {
    /// Tells snapshots apart (a new one for every change of the access files), so that what was decided with one
    /// is not taken for what another decides.
    public let generation: UInt64
    private static let generations = Atomic<UInt64>(0)
    /// Keys by the first bytes of their digest; the full digests are then compared in constant time.
    let keys: [UInt64: [AccessData.APIKey]]
    let subscriptions: [String: AccessData.Subscription]
    /// Subscriptions by the client id of their application: how JWT and OAuth2 plans find theirs.
    let subscriptionsByClientID: [String: [AccessData.Subscription]]
    let applications: [String: AccessData.Application]
    /// The subscriptions with a webhook configuration, by id: what the gateway pushes to.
    public let webhookSubscriptions: [AccessData.Subscription]

    public static let empty = AccessSnapshot(AccessData())

    public init(_ data: AccessData) {
        self.generation = Self.generations.add(1, ordering: .relaxed).newValue
        self.keys = Dictionary(grouping: data.apiKeys, by: \.hash.bucket)
        // The first definition of an id wins; duplicates are reported by ``AccessFileReader/crossCheck(_:)``.
        self.subscriptions = Dictionary(data.subscriptions.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.applications = Dictionary(data.applications.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.webhookSubscriptions = self.subscriptions.values.filter { $0.webhook != nil }.sorted { $0.id < $1.id }
        var applicationsByClientID: [String: Set<String>] = [:]
        for application in data.applications {
            guard let clientID = application.clientID, !clientID.isEmpty else { continue }
            applicationsByClientID[clientID, default: []].insert(application.id)
        }
        var byClientID: [String: [AccessData.Subscription]] = [:]
        for (clientID, applications) in applicationsByClientID {
            byClientID[clientID] = self.subscriptions.values.filter { applications.contains($0.application) }
                .sorted { $0.id < $1.id }
        }
        self.subscriptionsByClientID = byClientID
    }

    /// The subscription of an application with client id `clientID` to `plan` of `api` that is active at `now`.
    public func subscription(
        forClientID clientID: String, api: String, plan: String, at now: Date
    ) -> AccessData.Subscription? {
        subscriptionsByClientID[clientID]?.first { $0.api == api && $0.plan == plan && $0.isActive(at: now) }
    }

    /// The subscription a presented key grants on `api` to one of `plans` at `now`, and the first time after `now`
    /// at which the answer may change (a key expiring, a subscription of the key starting or ending; nil: never,
    /// with this snapshot).
    public func keyDecision(
        forKey key: some StringProtocol, api: String, plans: Set<String>, at now: Date
    ) -> (subscription: AccessData.Subscription?, stableUntil: Date?) {
        let hash = APIKeyHash(key: key)
        var found: AccessData.Subscription?
        var stableUntil: Date?
        func changes(at time: Date?) {
            guard let time, time > now else { return }
            stableUntil = min(stableUntil ?? time, time)
        }
        for candidate in keys[hash.bucket] ?? [] where candidate.hash.constantTimeEquals(hash) {
            changes(at: candidate.expireAt)
            guard candidate.isUsable(at: now) else { continue }
            for id in candidate.subscriptions {
                guard let subscription = subscriptions[id], subscription.api == api, plans.contains(subscription.plan)
                else { continue }
                changes(at: subscription.startingAt)
                changes(at: subscription.endingAt)
                guard subscription.isActive(at: now) else { continue }
                found = found ?? subscription
            }
        }
        return (found, stableUntil)
    }

    /// What `#subscription` shows for the plan that let a request in: its subscription and that subscription's
    /// application (nil on a key-less plan, which has no subscription).
    /// A subscription as `#subscription` shows it, with its application's name and client id.
    public func flowSubscription(_ subscription: AccessData.Subscription) -> FlowRequest.Subscription {
        let application = applications[subscription.application]
        return FlowRequest.Subscription(
            id: subscription.id, applicationID: subscription.application, applicationName: application?.name,
            clientID: application?.clientID, plan: subscription.plan, metadata: subscription.metadata)
    }

    public func flowSubscription(for plan: SecurityChain.ResolvedPlan) -> FlowRequest.Subscription? {
        guard let id = plan.subscription else { return nil }
        let subscription = subscriptions[id]
        let applicationID = subscription?.application ?? plan.application
        let application = applicationID.flatMap { applications[$0] }
        return FlowRequest.Subscription(
            id: id, applicationID: applicationID, applicationName: application?.name, clientID: application?.clientID,
            plan: plan.id, metadata: subscription?.metadata ?? [:])
    }
}
