import Foundation
import Logging
public import ServiceLifecycle
import SluiceCore
public import SluiceStore

/// Keeps a gateway in step with the management store: at start it loads every STARTED API (with its PUBLISHED and
/// DEPRECATED plans merged in) and all access data; then it follows the store's events table, every
/// `pollInterval` and at once when the store notifies a change (PostgreSQL LISTEN), and applies what changed.
///
/// While the store cannot be reached the gateway serves what it last loaded; when the store answers again, the
/// sync loads everything afresh. A definition that does not validate leaves its API as it was, with a logged
/// diagnostic.
public actor StoreSyncService: Service {
    let store: any ManagementStore
    let registry: DeploymentRegistry
    let loader: DefinitionLoader
    let pollInterval: Duration
    let callbackPolicy: WebhookCallbackPolicy
    let logger: Logger
    /// Calls its argument on each committed change until the connection fails (PostgreSQL LISTEN); nil for stores
    /// that cannot notify.
    let listen: (@Sendable (@escaping @Sendable () -> Void) async throws -> Void)?
    let wake = WakeSignal()
    /// Declarative files copied into the store before the first load; nil for none.
    let seeder: StoreSeeder?
    private var seeded = false

    /// The last event applied; nil before the first full load, and after the store failed.
    private var cursor: Int64?
    private var migrated = false
    private var reachable = true
    /// What is deployed from the store, by API id: the merged definition's text.
    private var deployed: [String: String] = [:]
    /// The merged definitions that were refused, so each refusal is logged once.
    private var refused: [String: String] = [:]
    /// The subscriptions in force, by id (what a subscription row that stops converting keeps).
    private var subscriptionsInForce: [String: AccessData.Subscription] = [:]
    private var firstSync: [CheckedContinuation<Void, Never>] = []
    private var synchronizedOnce = false

    /// - Parameters:
    ///   - pollInterval: how often the events table is read. Default: 500 ms.
    ///   - seedDirectory: definitions and access files to copy into the store (what it lacks) before the first
    ///     load. Default: none.
    public init(
        store: any ManagementStore, registry: DeploymentRegistry, catalog: DefinitionCatalog = .gateway,
        pollInterval: Duration = .milliseconds(500), callbackPolicy: WebhookCallbackPolicy = .init(),
        seedDirectory: String? = nil, logger: Logger
    ) {
        self.seeder = seedDirectory.map {
            StoreSeeder(
                path: $0, loader: DefinitionLoader(catalog: catalog), callbackPolicy: callbackPolicy, logger: logger)
        }
        self.store = store
        self.registry = registry
        self.loader = DefinitionLoader(catalog: catalog)
        self.pollInterval = pollInterval
        self.callbackPolicy = callbackPolicy
        self.logger = logger
        if let postgres = store as? PostgresManagementStore {
            self.listen = { try await postgres.listenForChanges($0) }
        } else {
            self.listen = nil
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                if let listen = self.listen {
                    let wake = self.wake
                    group.addTask {
                        while !Task.isCancelled {
                            do {
                                try await listen { wake.signal() }
                            } catch {
                                self.logger.debug("change notifications interrupted", metadata: ["error": "\(error)"])
                            }
                            // A new connection, then a poll: what changed while none listened is in the events.
                            try? await Task.sleep(for: .seconds(1))
                        }
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        await self.synchronize()
                        self.registry.streams.recheck()
                        await self.registry.stopIdleRetired()
                        await self.wake.wait(atMost: self.pollInterval)
                    }
                }
            }
        }
    }

    /// Waits until the first full load from the store has been applied.
    public func waitForFirstSync() async {
        if synchronizedOnce { return }
        await withCheckedContinuation { firstSync.append($0) }
    }

    /// Reads what changed in the store and applies it; the whole store when nothing was loaded yet.
    public func synchronize() async {
        do {
            if !migrated {
                try await store.migrate()
                migrated = true
            }
            if let seeder, !seeded {
                try await seeder.seed(into: store)
                seeded = true
            }
            if let cursor {
                let range = try await store.eventRange()
                if !range.canContinue(from: cursor) {
                    try await loadEverything(reason: "its place in the store's events is gone (pruned or restored)")
                } else if range.latest > cursor {
                    try await applyEvents(after: cursor)
                }
            } else {
                try await loadEverything(reason: nil)
            }
            if !reachable {
                reachable = true
                logger.notice("management store reachable again; gateway caught up")
            }
        } catch {
            // Shutting down: the store's pool stops, nothing to report.
            if Task.isCancelled { return }
            if reachable {
                reachable = false
                logger.error(
                    "management store unavailable; serving the last known APIs and access data",
                    metadata: ["error": "\(error)"])
            }
            // Everything is read again once the store answers: changes made meanwhile are then applied at once.
            cursor = nil
        }
        if !synchronizedOnce {
            synchronizedOnce = true
            for waiter in firstSync { waiter.resume() }
            firstSync = []
        }
    }

    /// Applies what the events after `cursor` say changed, or everything when some of them were pruned meanwhile.
    private func applyEvents(after cursor: Int64) async throws {
        var position = cursor
        var apisChanged = false
        var accessChanged = false
        while true {
            let events = try await store.events(after: position, limit: 1000)
            for event in events {
                switch event.resourceType {
                case .api, .plan: apisChanged = true
                case .application, .subscription, .apiKey: accessChanged = true
                case .user: break
                }
            }
            position = events.last?.sequence ?? position
            if events.count < 1000 { break }
        }
        // Pruning takes the oldest events: when the ones after the cursor were all still there after reading, none
        // was missed.
        guard try await store.eventRange().canContinue(from: cursor) else {
            try await loadEverything(reason: "the events it was reading were pruned")
            return
        }
        if apisChanged { try await reloadAPIs() }
        if accessChanged { try await reloadAccess() }
        self.cursor = position
    }

    /// Reads every API and all access data afresh, and carries on from the newest event.
    private func loadEverything(reason: String?) async throws {
        let latest = try await store.latestEventSequence()
        try await reloadAccess()
        try await reloadAPIs()
        cursor = latest
        var metadata: Logger.Metadata = [
            "apis": "\(deployed.keys.sorted().joined(separator: ","))", "event": "\(latest)",
        ]
        if let reason { metadata["reason"] = "\(reason)" }
        logger.info("management store loaded", metadata: metadata)
    }

    private func reloadAPIs() async throws {
        let store = self.store
        let started = try await store.all { try await store.listAPIs(APIFilter(lifecycleState: .started), page: $0) }
        let plans = try await store.all {
            try await store.listPlans(PlanFilter(statuses: [.published, .deprecated]), page: $0)
        }
        let plansByAPI = Dictionary(grouping: plans, by: \.apiID)
        var wanted = Set<String>()
        for api in started {
            wanted.insert(api.id)
            let apiPlans = plansByAPI[api.id] ?? []
            if apiPlans.isEmpty {
                // Serving an API with no plan would open it to anyone: a STARTED API needs a published plan.
                if deployed.removeValue(forKey: api.id) != nil { await registry.undeploy(id: api.id) }
                refuse(api.id, "", "the API has no PUBLISHED or DEPRECATED plan")
                continue
            }
            let (merged, problem) = StoreSnapshot.mergedDefinition(api, plans: apiPlans)
            guard let merged else {
                refuse(api.id, api.definition, problem ?? "invalid definition")
                continue
            }
            let text = merged.jsonText()
            if deployed[api.id] == text { continue }
            let source = "store:api/\(api.id)@\(api.deploymentRevision)"
            let loaded = loader.load(value: merged, source: source)
            guard let definition = loaded.definition, loaded.isDeployable else {
                refuse(api.id, text, loaded.errors.map(\.description).joined(separator: "; "))
                continue
            }
            guard definition.id == api.id else {
                refuse(api.id, text, "the definition's id '\(definition.id)' is not the API's")
                continue
            }
            do {
                try registry.deploy(definition, source: source)
                deployed[api.id] = text
                refused[api.id] = nil
            } catch {
                refuse(api.id, text, "\(error)")
            }
        }
        for id in deployed.keys where !wanted.contains(id) {
            deployed.removeValue(forKey: id)
            refused.removeValue(forKey: id)
            await registry.undeploy(id: id)
        }
    }

    private func refuse(_ id: String, _ text: String, _ problem: String) {
        guard refused[id] != text else { return }
        refused[id] = text
        logger.error(
            "API from the management store refused; it stays as it was",
            metadata: ["api": "\(id)", "deployed": "\(deployed[id] != nil)", "problem": "\(problem)"])
    }

    private func reloadAccess() async throws {
        let store = self.store
        let applications = try await store.all { try await store.listApplications(ApplicationFilter(), page: $0) }
        let subscriptions = try await store.all { try await store.listSubscriptions(SubscriptionFilter(), page: $0) }
        let keys = try await store.all { try await store.listAPIKeys(APIKeyFilter(), page: $0) }
        let (data, problems) = StoreSnapshot.accessData(
            applications: applications, subscriptions: subscriptions, keys: keys, callbackPolicy: callbackPolicy,
            previous: subscriptionsInForce)
        for (subscription, diagnostics) in problems {
            logger.error(
                "subscription from the management store refused; its previous state is kept",
                metadata: ["subscription": "\(subscription)", "problem": "\(diagnostics)"])
        }
        subscriptionsInForce = Dictionary(data.subscriptions.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        registry.access.replace(with: data)
    }
}
