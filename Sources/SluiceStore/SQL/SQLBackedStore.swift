import Foundation
import SluiceCore

/// A ``ManagementStore`` whose logic is ``SQLStoreCore``'s: the SQLite and the PostgreSQL stores differ only in
/// their backend and migrations.
protocol SQLBackedStore: ManagementStore {
    var core: SQLStoreCore { get }
}

extension SQLBackedStore {
    public func migrate() async throws {
        do {
            try await core.backend.migrate()
        } catch {
            throw StoreError.unavailable(error)
        }
    }

    @discardableResult
    public func createAPI(_ api: ManagedAPI, context: ChangeContext) async throws -> ManagedAPI {
        try await core.createAPI(api, context: context)
    }
    @discardableResult
    public func importAPI(
        _ api: ManagedAPI, plans: [ManagedPlan], context: ChangeContext
    ) async throws
        -> (api: ManagedAPI, plans: [ManagedPlan])
    {
        try await core.importAPI(api, plans: plans, context: context)
    }
    public func api(id: String) async throws -> ManagedAPI { try await core.get(ManagedAPI.self, id: id) }
    public func listAPIs(_ filter: APIFilter, page: PageRequest) async throws -> Page<ManagedAPI> {
        try await core.listAPIs(filter, page: page)
    }
    @discardableResult
    public func updateAPI(_ api: ManagedAPI, expectedVersion: Int64, context: ChangeContext) async throws -> ManagedAPI
    {
        try await core.updateAPI(api, expectedVersion: expectedVersion, context: context)
    }
    public func deleteAPI(id: String, expectedVersion: Int64?, context: ChangeContext) async throws {
        try await core.deleteAPI(id: id, expectedVersion: expectedVersion, context: context)
    }

    @discardableResult
    public func createPlan(_ plan: ManagedPlan, context: ChangeContext) async throws -> ManagedPlan {
        try await core.createPlan(plan, context: context)
    }
    public func plan(id: String) async throws -> ManagedPlan { try await core.get(ManagedPlan.self, id: id) }
    public func listPlans(_ filter: PlanFilter, page: PageRequest) async throws -> Page<ManagedPlan> {
        try await core.listPlans(filter, page: page)
    }
    @discardableResult
    public func updatePlan(
        _ plan: ManagedPlan, expectedVersion: Int64, context: ChangeContext
    ) async throws
        -> ManagedPlan
    {
        try await core.updatePlan(plan, expectedVersion: expectedVersion, context: context)
    }
    public func deletePlan(id: String, expectedVersion: Int64?, context: ChangeContext) async throws {
        try await core.deletePlan(id: id, expectedVersion: expectedVersion, context: context)
    }

    @discardableResult
    public func createApplication(
        _ application: ManagedApplication, context: ChangeContext
    ) async throws
        -> ManagedApplication
    {
        try await core.createApplication(application, context: context)
    }
    public func application(id: String) async throws -> ManagedApplication {
        try await core.get(ManagedApplication.self, id: id)
    }
    public func listApplications(
        _ filter: ApplicationFilter, page: PageRequest
    ) async throws
        -> Page<ManagedApplication>
    {
        try await core.listApplications(filter, page: page)
    }
    @discardableResult
    public func updateApplication(
        _ application: ManagedApplication, expectedVersion: Int64, context: ChangeContext
    ) async throws -> ManagedApplication {
        try await core.updateApplication(application, expectedVersion: expectedVersion, context: context)
    }
    public func deleteApplication(id: String, expectedVersion: Int64?, context: ChangeContext) async throws {
        try await core.deleteApplication(id: id, expectedVersion: expectedVersion, context: context)
    }

    @discardableResult
    public func createSubscription(
        _ subscription: ManagedSubscription, context: ChangeContext
    ) async throws
        -> ManagedSubscription
    {
        try await core.createSubscription(subscription, context: context)
    }
    public func subscription(id: String) async throws -> ManagedSubscription {
        try await core.get(ManagedSubscription.self, id: id)
    }
    public func listSubscriptions(
        _ filter: SubscriptionFilter, page: PageRequest
    ) async throws
        -> Page<ManagedSubscription>
    {
        try await core.listSubscriptions(filter, page: page)
    }
    @discardableResult
    public func updateSubscription(
        _ subscription: ManagedSubscription, expectedVersion: Int64, context: ChangeContext
    ) async throws -> ManagedSubscription {
        try await core.updateSubscription(subscription, expectedVersion: expectedVersion, context: context)
    }
    public func deleteSubscription(id: String, expectedVersion: Int64?, context: ChangeContext) async throws {
        try await core.deleteSubscription(id: id, expectedVersion: expectedVersion, context: context)
    }

    @discardableResult
    public func createAPIKey(_ key: ManagedAPIKey, context: ChangeContext) async throws -> ManagedAPIKey {
        try await core.createAPIKey(key, context: context)
    }
    public func apiKey(id: String) async throws -> ManagedAPIKey { try await core.apiKey(id: id) }
    public func apiKey(hash: APIKeyHash) async throws -> ManagedAPIKey? { try await core.apiKey(hash: hash) }
    public func listAPIKeys(_ filter: APIKeyFilter, page: PageRequest) async throws -> Page<ManagedAPIKey> {
        try await core.listAPIKeys(filter, page: page)
    }
    @discardableResult
    public func updateAPIKey(
        _ key: ManagedAPIKey, expectedVersion: Int64, context: ChangeContext
    ) async throws
        -> ManagedAPIKey
    {
        try await core.updateAPIKey(key, expectedVersion: expectedVersion, context: context)
    }
    public func deleteAPIKey(id: String, expectedVersion: Int64?, context: ChangeContext) async throws {
        try await core.deleteAPIKey(id: id, expectedVersion: expectedVersion, context: context)
    }

    @discardableResult
    public func createUser(_ user: ManagementUser, context: ChangeContext) async throws -> ManagementUser {
        try await core.createUser(user, context: context)
    }
    public func user(id: String) async throws -> ManagementUser { try await core.get(ManagementUser.self, id: id) }
    public func user(tokenHash: APIKeyHash) async throws -> ManagementUser? {
        try await core.user(tokenHash: tokenHash)
    }
    public func listUsers(page: PageRequest) async throws -> Page<ManagementUser> {
        try await core.read { try await core.list(ManagementUser.self, conditions: [], page: page, on: $0) }
    }
    @discardableResult
    public func updateUser(
        _ user: ManagementUser, expectedVersion: Int64, context: ChangeContext
    ) async throws
        -> ManagementUser
    {
        try await core.updateUser(user, expectedVersion: expectedVersion, context: context)
    }
    public func deleteUser(id: String, expectedVersion: Int64?, context: ChangeContext) async throws {
        try await core.deleteRecord(ManagementUser.self, id: id, expectedVersion: expectedVersion, context: context)
    }

    public func events(after sequence: Int64, limit: Int) async throws -> [ChangeEvent] {
        try await core.events(after: sequence, limit: limit)
    }
    public func latestEventSequence() async throws -> Int64 { try await core.eventRange().latest }
    public func eventRange() async throws -> EventRange { try await core.eventRange() }
    @discardableResult
    public func pruneEvents(before date: Date) async throws -> Int { try await core.pruneEvents(before: date) }
    public func auditLog(_ filter: AuditFilter, page: PageRequest) async throws -> Page<AuditEntry> {
        try await core.auditLog(filter, page: page)
    }
}
