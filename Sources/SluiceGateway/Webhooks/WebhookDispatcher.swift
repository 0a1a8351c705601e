import Foundation
public import Logging
public import ServiceLifecycle
public import SluiceCore
public import SluiceEntrypoints
import Synchronization

/// Runs a ``WebhookDelivery`` for every webhook subscription of a deployed API with a `webhook` entrypoint, and
/// keeps that set in step with the deployments and the access files: a new subscription starts, a removed or closed
/// one stops, a changed one (or one whose API was redeployed) restarts, `PAUSED` pauses and `ACCEPTED` resumes.
/// On shutdown every delivery stops; what was not acknowledged stays with the endpoint.
public final class WebhookDispatcher: Service, Sendable {
    struct Running {
        var delivery: WebhookDelivery
        var task: Task<Void, Never>
        var deployment: ObjectIdentifier
        /// The subscription as it was started, its status left out (a status change does not restart it).
        var subscription: AccessData.Subscription
    }

    let registry: DeploymentRegistry
    let interval: Duration
    /// This node's stable name (the `nodeId` setting), handed to each delivery.
    let nodeIdentifier: String?
    /// Which addresses callbacks may reach (the `webhooks.*` settings), and how their names are resolved.
    let callbackPolicy: WebhookCallbackPolicy
    let resolver: WebhookHostResolver
    let logger: Logger
    private let running = Mutex<[String: Running]>([:])

    public init(
        registry: DeploymentRegistry, interval: Duration = .milliseconds(250), nodeIdentifier: String? = nil,
        callbackPolicy: WebhookCallbackPolicy = .init(), resolver: WebhookHostResolver = .system, logger: Logger
    ) {
        self.callbackPolicy = callbackPolicy
        self.resolver = resolver
        self.registry = registry
        self.interval = interval
        self.nodeIdentifier = nodeIdentifier
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                self.reconcile()
                try? await Task.sleep(for: self.interval)
            }
        }
        await stopAll()
    }

    /// The delivery of a subscription, while it runs.
    public func delivery(subscription id: String) -> WebhookDelivery? {
        running.withLock { $0[id]?.delivery }
    }

    /// Every delivery running on this node, by subscription id.
    public var deliveries: [WebhookDelivery] {
        running.withLock { $0.values.map(\.delivery) }.sorted { $0.subscriptionID < $1.subscriptionID }
    }

    /// Starts, stops, restarts, pauses and resumes deliveries to match the deployments and access data in force.
    public func reconcile(now: Date = Date()) {
        let access = registry.access.current
        var desired: [String: (AccessData.Subscription, Deployment, WebhookBinding)] = [:]
        for subscription in access.webhookSubscriptions {
            guard let deployment = registry.deployment(id: subscription.api), let binding = deployment.webhook,
                deployment.definition.plans.contains(where: { $0.id == subscription.plan && $0.status.serves })
            else { continue }
            guard subscription.status == .accepted || subscription.status == .paused else { continue }
            if let startingAt = subscription.startingAt, now < startingAt { continue }
            if let endingAt = subscription.endingAt, now >= endingAt { continue }
            desired[subscription.id] = (subscription, deployment, binding)
        }
        var stopped: [Running] = []
        var started: [(String, WebhookDelivery)] = []
        running.withLock { running in
            for (id, entry) in running {
                guard let (subscription, deployment, _) = desired[id],
                    entry.deployment == ObjectIdentifier(deployment),
                    entry.subscription == Self.withoutStatus(subscription)
                else {
                    stopped.append(entry)
                    running.removeValue(forKey: id)
                    continue
                }
                if subscription.status == .paused { entry.delivery.pause() } else { entry.delivery.resume() }
            }
            for (id, (subscription, deployment, binding)) in desired where running[id] == nil {
                guard let webhook = subscription.webhook else { continue }
                let delivery = WebhookDelivery(
                    subscriptionID: id, apiID: subscription.api, qos: binding.qos, configuration: binding.configuration,
                    webhook: webhook, endpoint: deployment.endpoint, deadLetters: binding.deadLetters,
                    flow: deployment.startWebhookFlows(subscription: subscription, access: access),
                    paused: subscription.status == .paused, nodeIdentifier: nodeIdentifier,
                    callbackPolicy: callbackPolicy, resolver: resolver, logger: logger,
                    onOutcome: deployment.observation.webhookOutcomes(
                        plan: subscription.plan, application: subscription.application),
                    tracer: deployment.observation.tracing?.callbacks(
                        plan: subscription.plan, application: subscription.application, subscription: id))
                // A task per subscription: each delivery loop lives as long as its subscription, independently of
                // the others, and is cancelled on its own when the subscription changes.
                let task = Task { await delivery.run() }
                running[id] = Running(
                    delivery: delivery, task: task, deployment: ObjectIdentifier(deployment),
                    subscription: Self.withoutStatus(subscription))
                started.append((id, delivery))
            }
        }
        for entry in stopped {
            entry.task.cancel()
            logger.info(
                "webhook subscription stopped",
                metadata: ["subscription": "\(entry.delivery.subscriptionID)", "api": "\(entry.delivery.apiID)"])
        }
        for (id, delivery) in started {
            logger.info(
                "webhook subscription started",
                metadata: ["subscription": "\(id)", "api": "\(delivery.apiID)", "qos": "\(delivery.qos.rawValue)"])
        }
    }

    /// Stops every delivery and waits for them to end.
    public func stopAll() async {
        let all = running.withLock { running in
            defer { running.removeAll() }
            return Array(running.values)
        }
        for entry in all { entry.task.cancel() }
        for entry in all { await entry.task.value }
    }

    static func withoutStatus(_ subscription: AccessData.Subscription) -> AccessData.Subscription {
        var copy = subscription
        copy.status = .accepted
        return copy
    }
}
