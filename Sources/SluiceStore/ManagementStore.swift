public import Foundation
public import SluiceCore

/// Where the management API keeps what people manage, and where gateways read what they serve.
///
/// Every change is one transaction that also writes a ``ChangeEvent`` (gateways follow ``events(after:limit:)``) and
/// an ``AuditEntry``. Updates and deletions carry the version the caller read: a stale one fails with
/// ``StoreError/Code/conflict`` and changes nothing. The store sets ids' timestamps and versions; the caller sets
/// ids. Errors are always ``StoreError``.
public protocol ManagementStore: Sendable {
    /// Brings the schema up to date (each migration once, in order). Safe to call again; stores call it when they
    /// open, and a store that could not reach its database then is migrated by the next call.
    func migrate() async throws

    // MARK: APIs
    @discardableResult
    func createAPI(_ api: ManagedAPI, context: ChangeContext) async throws -> ManagedAPI
    /// Creates an API with its plans in one transaction (Gravitee's `_import/definition`): all of them, or nothing
    /// when any is refused. Each plan's `apiID` must be the API's id.
    @discardableResult
    func importAPI(
        _ api: ManagedAPI, plans: [ManagedPlan], context: ChangeContext
    ) async throws
        -> (api: ManagedAPI, plans: [ManagedPlan])
    func api(id: String) async throws -> ManagedAPI
    func listAPIs(_ filter: APIFilter, page: PageRequest) async throws -> Page<ManagedAPI>
    /// Replaces the API's name, definition, lifecycle state and deployment revision.
    @discardableResult
    func updateAPI(_ api: ManagedAPI, expectedVersion: Int64, context: ChangeContext) async throws -> ManagedAPI
    /// Deletes the API with its plans and subscriptions (each gets its own event).
    func deleteAPI(id: String, expectedVersion: Int64?, context: ChangeContext) async throws

    // MARK: Plans
    @discardableResult
    func createPlan(_ plan: ManagedPlan, context: ChangeContext) async throws -> ManagedPlan
    func plan(id: String) async throws -> ManagedPlan
    func listPlans(_ filter: PlanFilter, page: PageRequest) async throws -> Page<ManagedPlan>
    /// Replaces everything but the API the plan belongs to, which never changes.
    @discardableResult
    func updatePlan(_ plan: ManagedPlan, expectedVersion: Int64, context: ChangeContext) async throws -> ManagedPlan
    /// Deletes the plan with its subscriptions.
    func deletePlan(id: String, expectedVersion: Int64?, context: ChangeContext) async throws

    // MARK: Applications
    @discardableResult
    func createApplication(
        _ application: ManagedApplication, context: ChangeContext
    ) async throws
        -> ManagedApplication
    func application(id: String) async throws -> ManagedApplication
    func listApplications(_ filter: ApplicationFilter, page: PageRequest) async throws -> Page<ManagedApplication>
    @discardableResult
    func updateApplication(
        _ application: ManagedApplication, expectedVersion: Int64, context: ChangeContext
    )
        async throws -> ManagedApplication
    /// Deletes the application with its subscriptions and API keys.
    func deleteApplication(id: String, expectedVersion: Int64?, context: ChangeContext) async throws

    // MARK: Subscriptions
    @discardableResult
    func createSubscription(
        _ subscription: ManagedSubscription, context: ChangeContext
    ) async throws
        -> ManagedSubscription
    func subscription(id: String) async throws -> ManagedSubscription
    func listSubscriptions(_ filter: SubscriptionFilter, page: PageRequest) async throws -> Page<ManagedSubscription>
    /// Replaces status, window, metadata and configuration; the application, API and plan never change.
    @discardableResult
    func updateSubscription(
        _ subscription: ManagedSubscription, expectedVersion: Int64, context: ChangeContext
    )
        async throws -> ManagedSubscription
    func deleteSubscription(id: String, expectedVersion: Int64?, context: ChangeContext) async throws

    // MARK: API keys
    @discardableResult
    func createAPIKey(_ key: ManagedAPIKey, context: ChangeContext) async throws -> ManagedAPIKey
    func apiKey(id: String) async throws -> ManagedAPIKey
    /// The key with this digest, if any (what a key presented in clear resolves to).
    func apiKey(hash: APIKeyHash) async throws -> ManagedAPIKey?
    func listAPIKeys(_ filter: APIKeyFilter, page: PageRequest) async throws -> Page<ManagedAPIKey>
    /// Replaces the digest (a renewal), subscriptions, expiry and revocation; the application never changes.
    @discardableResult
    func updateAPIKey(
        _ key: ManagedAPIKey, expectedVersion: Int64, context: ChangeContext
    ) async throws
        -> ManagedAPIKey
    func deleteAPIKey(id: String, expectedVersion: Int64?, context: ChangeContext) async throws

    // MARK: Management users
    @discardableResult
    func createUser(_ user: ManagementUser, context: ChangeContext) async throws -> ManagementUser
    func user(id: String) async throws -> ManagementUser
    /// The user whose token has this digest, if any (what a bearer token resolves to).
    func user(tokenHash: APIKeyHash) async throws -> ManagementUser?
    func listUsers(page: PageRequest) async throws -> Page<ManagementUser>
    @discardableResult
    func updateUser(
        _ user: ManagementUser, expectedVersion: Int64, context: ChangeContext
    ) async throws
        -> ManagementUser
    func deleteUser(id: String, expectedVersion: Int64?, context: ChangeContext) async throws

    // MARK: Events and audit
    /// The events after `sequence`, oldest first, at most `limit` (1…10 000).
    func events(after sequence: Int64, limit: Int) async throws -> [ChangeEvent]
    /// The sequence of the newest event; 0 when there is none.
    func latestEventSequence() async throws -> Int64
    /// The oldest and newest events the store holds (what a reader checks its cursor against).
    func eventRange() async throws -> EventRange
    /// Deletes the events written before `date`, but always keeps the newest (sequences go on from it); returns
    /// how many were deleted. Readers that had not read them load everything again (``EventRange``).
    @discardableResult
    func pruneEvents(before date: Date) async throws -> Int
    /// The audit log, newest first.
    func auditLog(_ filter: AuditFilter, page: PageRequest) async throws -> Page<AuditEntry>
}

/// Which page of a list: Gravitee's `page` (from 1) and `perPage`.
public struct PageRequest: Sendable, Hashable {
    public var page: Int
    public var perPage: Int

    /// The most items a page may hold.
    public static let maximumPerPage = 1000
    /// The highest page number.
    public static let maximumPage = 1_000_000_000

    /// Default: the first page of 10, as Gravitee's management API.
    public init(page: Int = 1, perPage: Int = 10) {
        self.page = page
        self.perPage = perPage
    }

    /// Every item up to ``maximumPerPage``.
    public static let all = PageRequest(page: 1, perPage: maximumPerPage)

    func validated() throws -> PageRequest {
        var problems: [StoreProblem] = []
        if page < 1 { problems.append(.init(path: "page", message: "must be at least 1")) }
        if perPage < 1 || perPage > Self.maximumPerPage {
            problems.append(.init(path: "perPage", message: "must be between 1 and \(Self.maximumPerPage)"))
        }
        // The offset, (page - 1) × perPage, must be a number a database takes (and must not overflow here).
        if page > Self.maximumPage {
            problems.append(.init(path: "page", message: "must be at most \(Self.maximumPage)"))
        }
        if problems.isEmpty { return self }
        throw StoreError(code: .invalid, message: "the page request is not valid", problems: problems)
    }

    var offset: Int { (page - 1) * perPage }
}

/// One page of a list, with the total that Gravitee's `pagination` reports.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var page: Int
    public var perPage: Int
    /// How many items the whole list holds.
    public var totalCount: Int

    public init(items: [Item], page: Int, perPage: Int, totalCount: Int) {
        self.items = items
        self.page = page
        self.perPage = perPage
        self.totalCount = totalCount
    }

    /// How many pages the whole list takes.
    public var pageCount: Int { totalCount == 0 ? 0 : (totalCount + perPage - 1) / perPage }
}

public struct APIFilter: Sendable, Hashable {
    public var lifecycleState: ManagedAPI.LifecycleState?
    /// Part of the name, compared without regard to case.
    public var nameContains: String?
    public init(lifecycleState: ManagedAPI.LifecycleState? = nil, nameContains: String? = nil) {
        self.lifecycleState = lifecycleState
        self.nameContains = nameContains
    }
}

public struct PlanFilter: Sendable, Hashable {
    public var apiID: String?
    /// Any of these statuses; empty for all.
    public var statuses: Set<ManagedPlan.Status>
    /// Any of these security types (`api-key`, `key-less`, …); empty for all.
    public var securityTypes: Set<String>
    public init(apiID: String? = nil, statuses: Set<ManagedPlan.Status> = [], securityTypes: Set<String> = []) {
        self.apiID = apiID
        self.statuses = statuses
        self.securityTypes = securityTypes
    }
}

public struct ApplicationFilter: Sendable, Hashable {
    public var nameContains: String?
    public var clientID: String?
    public init(nameContains: String? = nil, clientID: String? = nil) {
        self.nameContains = nameContains
        self.clientID = clientID
    }
}

public struct SubscriptionFilter: Sendable, Hashable {
    public var apiID: String?
    public var applicationID: String?
    public var planID: String?
    /// Any of these applications; empty for all.
    public var applicationIDs: Set<String>
    /// Any of these plans; empty for all.
    public var planIDs: Set<String>
    /// Any of these statuses; empty for all.
    public var statuses: Set<ManagedSubscription.Status>
    public init(
        apiID: String? = nil, applicationID: String? = nil, planID: String? = nil,
        applicationIDs: Set<String> = [], planIDs: Set<String> = [], statuses: Set<ManagedSubscription.Status> = []
    ) {
        self.apiID = apiID
        self.applicationID = applicationID
        self.planID = planID
        self.applicationIDs = applicationIDs
        self.planIDs = planIDs
        self.statuses = statuses
    }
}

public struct APIKeyFilter: Sendable, Hashable {
    public var applicationID: String?
    /// Keys that carry this subscription.
    public var subscriptionID: String?
    public var revoked: Bool?
    public init(applicationID: String? = nil, subscriptionID: String? = nil, revoked: Bool? = nil) {
        self.applicationID = applicationID
        self.subscriptionID = subscriptionID
        self.revoked = revoked
    }
}

public struct AuditFilter: Sendable, Hashable {
    public var resourceType: ResourceType?
    public var resourceID: String?
    public var actor: String?
    public init(resourceType: ResourceType? = nil, resourceID: String? = nil, actor: String? = nil) {
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.actor = actor
    }
}
