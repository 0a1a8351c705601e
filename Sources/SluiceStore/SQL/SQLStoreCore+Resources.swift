import Foundation
import SluiceCore

// Each resource's create, read, list, update and delete: validation, references, unique values, cascades, and the
// event and audit entry of every change, in one transaction.
extension SQLStoreCore {
    func validate<R: StoredRecord>(_ record: R) throws {
        let problems = record.problems()
        if !problems.isEmpty { throw StoreError.invalid(R.resourceType, record.id, problems) }
    }

    func requireExists<R: StoredRecord>(
        _ type: R.Type, id: String, path: String, of owner: ResourceType, _ ownerID: String,
        on connection: any SQLConnection
    ) async throws -> R {
        guard let record = try await fetch(R.self, id: id, on: connection) else {
            throw StoreError.invalid(
                owner, ownerID, [.init(path: path, message: "\(R.resourceType.displayName) '\(id)' does not exist")])
        }
        return record
    }

    /// Creates a record in one transaction with its event and audit entry, once it validates and `check` (its
    /// references, its unique values) passes.
    func create<R: StoredRecord>(
        _ record: R, context: ChangeContext,
        check: @escaping @Sendable (any SQLConnection) async throws -> Void = { _ in }
    ) async throws -> R {
        try validate(record)
        return try await write { connection in
            try await check(connection)
            let stored = try await insert(record, on: connection)
            try await recordChange(R.resourceType, id: record.id, kind: .created, context: context, on: connection)
            return stored
        }
    }

    /// Updates a record in one transaction with its event and audit entry, once it validates and `check` passes
    /// on the record as it was (what may not change, unique values).
    func update<R: StoredRecord>(
        _ record: R, expectedVersion: Int64, context: ChangeContext,
        check: @escaping @Sendable (_ old: R, any SQLConnection) async throws -> Void = { _, _ in }
    ) async throws -> R {
        try validate(record)
        return try await write { connection in
            let old = try await fetchOrThrow(R.self, id: record.id, on: connection)
            try await check(old, connection)
            let stored = try await replace(old, with: record, expectedVersion: expectedVersion, on: connection)
            try await recordChange(R.resourceType, id: record.id, kind: .updated, context: context, on: connection)
            return stored
        }
    }

    // MARK: APIs

    func createAPI(_ api: ManagedAPI, context: ChangeContext) async throws -> ManagedAPI {
        try await create(api, context: context)
    }

    func importAPI(
        _ api: ManagedAPI, plans: [ManagedPlan], context: ChangeContext
    ) async throws
        -> (api: ManagedAPI, plans: [ManagedPlan])
    {
        var problems = api.problems()
        for (index, plan) in plans.enumerated() {
            problems += plan.problems().map { StoreProblem(path: "plans[\(index)].\($0.path)", message: $0.message) }
            if plan.apiID != api.id {
                problems.append(.init(path: "plans[\(index)].apiId", message: "must be the API's id '\(api.id)'"))
            }
        }
        if Set(plans.map(\.id)).count != plans.count {
            problems.append(.init(path: "plans", message: "must not use a plan id twice"))
        }
        if !problems.isEmpty { throw StoreError.invalid(.api, api.id, problems) }
        return try await write { connection in
            let stored = try await insert(api, on: connection)
            try await recordChange(.api, id: api.id, kind: .created, context: context, on: connection)
            var storedPlans: [ManagedPlan] = []
            for plan in plans {
                storedPlans.append(try await insert(plan, on: connection))
                try await recordChange(.plan, id: plan.id, kind: .created, context: context, on: connection)
            }
            return (stored, storedPlans)
        }
    }

    func updateAPI(_ api: ManagedAPI, expectedVersion: Int64, context: ChangeContext) async throws -> ManagedAPI {
        try await update(api, expectedVersion: expectedVersion, context: context)
    }

    func deleteAPI(id: String, expectedVersion: Int64?, context: ChangeContext) async throws {
        try await write { connection in
            let api = try await fetchOrThrow(ManagedAPI.self, id: id, on: connection)
            try Self.checkVersion(api, expected: expectedVersion)
            let subscriptions = try await connection.query(
                "SELECT id FROM subscriptions WHERE api_id = ?", [.text(id)]
            ).map { try $0.text(0) }
            try await deleteSubscriptions(subscriptions, context: context, on: connection)
            for row in try await connection.query("SELECT id FROM plans WHERE api_id = ?", [.text(id)]) {
                let planID = try row.text(0)
                try await deleteRow(ManagedPlan.self, id: planID, on: connection)
                try await recordChange(
                    .plan, id: planID, kind: .deleted, context: context, audit: false, on: connection)
            }
            try await deleteRow(ManagedAPI.self, id: id, on: connection)
            try await recordChange(.api, id: id, kind: .deleted, context: context, on: connection)
        }
    }

    func listAPIs(_ filter: APIFilter, page: PageRequest) async throws -> Page<ManagedAPI> {
        var conditions: [(String, [SQLValue])] = []
        if let state = filter.lifecycleState { conditions.append(("lifecycle_state = ?", [.text(state.rawValue)])) }
        if let name = filter.nameContains {
            conditions.append(("LOWER(name) LIKE ? ESCAPE '\\'", [.text(name.containsPattern)]))
        }
        return try await read { [conditions] connection in
            try await list(ManagedAPI.self, conditions: conditions, page: page, on: connection)
        }
    }

    // MARK: Plans

    func createPlan(_ plan: ManagedPlan, context: ChangeContext) async throws -> ManagedPlan {
        try await create(plan, context: context) { connection in
            _ = try await requireExists(
                ManagedAPI.self, id: plan.apiID, path: "apiId", of: .plan, plan.id, on: connection)
        }
    }

    func updatePlan(_ plan: ManagedPlan, expectedVersion: Int64, context: ChangeContext) async throws -> ManagedPlan {
        try await update(plan, expectedVersion: expectedVersion, context: context) { old, _ in
            if old.apiID != plan.apiID {
                throw StoreError.invalid(
                    .plan, plan.id, [.init(path: "apiId", message: "a plan cannot move to another API")])
            }
        }
    }

    func deletePlan(id: String, expectedVersion: Int64?, context: ChangeContext) async throws {
        try await write { connection in
            let plan = try await fetchOrThrow(ManagedPlan.self, id: id, on: connection)
            try Self.checkVersion(plan, expected: expectedVersion)
            let subscriptions = try await connection.query(
                "SELECT id FROM subscriptions WHERE plan_id = ?", [.text(id)]
            ).map { try $0.text(0) }
            try await deleteSubscriptions(subscriptions, context: context, on: connection)
            try await deleteRow(ManagedPlan.self, id: id, on: connection)
            try await recordChange(.plan, id: id, kind: .deleted, context: context, on: connection)
        }
    }

    func listPlans(_ filter: PlanFilter, page: PageRequest) async throws -> Page<ManagedPlan> {
        var conditions: [(String, [SQLValue])] = []
        if let api = filter.apiID { conditions.append(("api_id = ?", [.text(api)])) }
        if !filter.statuses.isEmpty {
            let statuses = filter.statuses.map(\.rawValue).sorted()
            conditions.append(
                ("status IN (\(statuses.map { _ in "?" }.joined(separator: ", ")))", statuses.map(SQLValue.text)))
        }
        if !filter.securityTypes.isEmpty {
            let types = filter.securityTypes.sorted()
            conditions.append(
                ("security_type IN (\(types.map { _ in "?" }.joined(separator: ", ")))", types.map(SQLValue.text)))
        }
        return try await read { [conditions] connection in
            try await list(ManagedPlan.self, conditions: conditions, page: page, on: connection)
        }
    }

    // MARK: Applications

    func checkClientID(_ application: ManagedApplication, on connection: any SQLConnection) async throws {
        guard let clientID = application.clientID else { return }
        let taken = try await connection.query(
            "SELECT id FROM applications WHERE client_id = ? AND id <> ?", [.text(clientID), .text(application.id)])
        if let other = taken.first {
            throw StoreError(
                code: .conflict,
                message: "client id '\(clientID)' is already used by application '\(try other.text(0))'",
                resourceType: .application, resourceID: application.id)
        }
    }

    func createApplication(
        _ application: ManagedApplication, context: ChangeContext
    ) async throws
        -> ManagedApplication
    {
        try await create(application, context: context) { try await checkClientID(application, on: $0) }
    }

    func updateApplication(
        _ application: ManagedApplication, expectedVersion: Int64, context: ChangeContext
    ) async throws -> ManagedApplication {
        try await update(application, expectedVersion: expectedVersion, context: context) {
            try await checkClientID(application, on: $1)
        }
    }

    func deleteApplication(id: String, expectedVersion: Int64?, context: ChangeContext) async throws {
        try await write { connection in
            let application = try await fetchOrThrow(ManagedApplication.self, id: id, on: connection)
            try Self.checkVersion(application, expected: expectedVersion)
            let subscriptions = try await connection.query(
                "SELECT id FROM subscriptions WHERE application_id = ?", [.text(id)]
            ).map { try $0.text(0) }
            try await deleteSubscriptions(subscriptions, context: context, on: connection)
            for row in try await connection.query("SELECT id FROM api_keys WHERE application_id = ?", [.text(id)]) {
                let keyID = try row.text(0)
                try await connection.execute("DELETE FROM api_key_subscriptions WHERE key_id = ?", [.text(keyID)])
                try await deleteRow(ManagedAPIKey.self, id: keyID, on: connection)
                try await recordChange(
                    .apiKey, id: keyID, kind: .deleted, context: context, audit: false, on: connection)
            }
            try await deleteRow(ManagedApplication.self, id: id, on: connection)
            try await recordChange(.application, id: id, kind: .deleted, context: context, on: connection)
        }
    }

    func listApplications(_ filter: ApplicationFilter, page: PageRequest) async throws -> Page<ManagedApplication> {
        var conditions: [(String, [SQLValue])] = []
        if let name = filter.nameContains {
            conditions.append(("LOWER(name) LIKE ? ESCAPE '\\'", [.text(name.containsPattern)]))
        }
        if let clientID = filter.clientID { conditions.append(("client_id = ?", [.text(clientID)])) }
        return try await read { [conditions] connection in
            try await list(ManagedApplication.self, conditions: conditions, page: page, on: connection)
        }
    }

    // MARK: Subscriptions

    func createSubscription(
        _ subscription: ManagedSubscription, context: ChangeContext
    ) async throws
        -> ManagedSubscription
    {
        try await create(subscription, context: context) { connection in
            let id = subscription.id
            _ = try await requireExists(
                ManagedApplication.self, id: subscription.applicationID, path: "applicationId", of: .subscription, id,
                on: connection)
            _ = try await requireExists(
                ManagedAPI.self, id: subscription.apiID, path: "apiId", of: .subscription, id, on: connection)
            let plan = try await requireExists(
                ManagedPlan.self, id: subscription.planID, path: "planId", of: .subscription, id, on: connection)
            if plan.apiID != subscription.apiID {
                throw StoreError.invalid(
                    .subscription, id,
                    [.init(path: "planId", message: "plan '\(plan.id)' belongs to API '\(plan.apiID)'")])
            }
        }
    }

    func updateSubscription(
        _ subscription: ManagedSubscription, expectedVersion: Int64, context: ChangeContext
    ) async throws -> ManagedSubscription {
        try await update(subscription, expectedVersion: expectedVersion, context: context) { old, _ in
            var problems: [StoreProblem] = []
            if old.applicationID != subscription.applicationID {
                problems.append(.init(path: "applicationId", message: "cannot change"))
            }
            if old.apiID != subscription.apiID { problems.append(.init(path: "apiId", message: "cannot change")) }
            if old.planID != subscription.planID { problems.append(.init(path: "planId", message: "cannot change")) }
            if !problems.isEmpty { throw StoreError.invalid(.subscription, subscription.id, problems) }
        }
    }

    func deleteSubscription(id: String, expectedVersion: Int64?, context: ChangeContext) async throws {
        try await write { connection in
            let subscription = try await fetchOrThrow(ManagedSubscription.self, id: id, on: connection)
            try Self.checkVersion(subscription, expected: expectedVersion)
            try await deleteSubscriptions([id], context: context, auditFirst: true, on: connection)
        }
    }

    /// Deletes subscriptions and takes them off the keys that carried them (those keys change version).
    func deleteSubscriptions(
        _ ids: [String], context: ChangeContext, auditFirst: Bool = false, on connection: any SQLConnection
    ) async throws {
        for id in ids {
            let keys = try await connection.query(
                "SELECT key_id FROM api_key_subscriptions WHERE subscription_id = ?", [.text(id)]
            ).map { try $0.text(0) }
            try await connection.execute("DELETE FROM api_key_subscriptions WHERE subscription_id = ?", [.text(id)])
            for key in keys {
                try await connection.execute(
                    "UPDATE api_keys SET version = version + 1, updated_at = ? WHERE id = ?",
                    [.integer(now().milliseconds), .text(key)])
                try await recordChange(.apiKey, id: key, kind: .updated, context: context, audit: false, on: connection)
            }
            try await deleteRow(ManagedSubscription.self, id: id, on: connection)
            try await recordChange(
                .subscription, id: id, kind: .deleted, context: context, audit: auditFirst, on: connection)
        }
    }

    func listSubscriptions(_ filter: SubscriptionFilter, page: PageRequest) async throws -> Page<ManagedSubscription> {
        var conditions: [(String, [SQLValue])] = []
        if let api = filter.apiID { conditions.append(("api_id = ?", [.text(api)])) }
        if let application = filter.applicationID { conditions.append(("application_id = ?", [.text(application)])) }
        if let plan = filter.planID { conditions.append(("plan_id = ?", [.text(plan)])) }
        for (column, values) in [("application_id", filter.applicationIDs), ("plan_id", filter.planIDs)]
        where !values.isEmpty {
            let sorted = values.sorted()
            conditions.append(
                ("\(column) IN (\(sorted.map { _ in "?" }.joined(separator: ", ")))", sorted.map(SQLValue.text)))
        }
        if !filter.statuses.isEmpty {
            let statuses = filter.statuses.map(\.rawValue).sorted()
            conditions.append(
                ("status IN (\(statuses.map { _ in "?" }.joined(separator: ", ")))", statuses.map(SQLValue.text)))
        }
        return try await read { [conditions] connection in
            try await list(ManagedSubscription.self, conditions: conditions, page: page, on: connection)
        }
    }

    // MARK: API keys

    /// Fills in the keys' subscriptions from their table, in the order they were given.
    func withSubscriptions(_ keys: [ManagedAPIKey], on connection: any SQLConnection) async throws -> [ManagedAPIKey] {
        guard !keys.isEmpty else { return [] }
        let placeholders = keys.map { _ in "?" }.joined(separator: ", ")
        let rows = try await connection.query(
            "SELECT key_id, subscription_id FROM api_key_subscriptions WHERE key_id IN (\(placeholders)) ORDER BY key_id, position",
            keys.map { .text($0.id) })
        var byKey: [String: [String]] = [:]
        for row in rows { byKey[try row.text(0), default: []].append(try row.text(1)) }
        return keys.map { key in
            var key = key
            key.subscriptions = byKey[key.id] ?? []
            return key
        }
    }

    func checkKey(_ key: ManagedAPIKey, on connection: any SQLConnection) async throws {
        let taken = try await connection.query(
            "SELECT id FROM api_keys WHERE key_hash = ? AND id <> ?", [.text(key.hash.description), .text(key.id)])
        if !taken.isEmpty {
            throw StoreError(
                code: .conflict, message: "another API key has the same value", resourceType: .apiKey,
                resourceID: key.id)
        }
        var problems: [StoreProblem] = []
        for (index, id) in key.subscriptions.enumerated() {
            guard let subscription = try await fetch(ManagedSubscription.self, id: id, on: connection) else {
                problems.append(.init(path: "subscriptions[\(index)]", message: "subscription '\(id)' does not exist"))
                continue
            }
            if subscription.applicationID != key.applicationID {
                problems.append(
                    .init(
                        path: "subscriptions[\(index)]",
                        message: "subscription '\(id)' belongs to application '\(subscription.applicationID)'"))
            }
        }
        if !problems.isEmpty { throw StoreError.invalid(.apiKey, key.id, problems) }
    }

    func writeKeySubscriptions(_ key: ManagedAPIKey, on connection: any SQLConnection) async throws {
        try await connection.execute("DELETE FROM api_key_subscriptions WHERE key_id = ?", [.text(key.id)])
        for (position, subscription) in key.subscriptions.enumerated() {
            try await connection.execute(
                "INSERT INTO api_key_subscriptions (key_id, subscription_id, position) VALUES (?, ?, ?)",
                [.text(key.id), .text(subscription), .integer(Int64(position))])
        }
    }

    func createAPIKey(_ key: ManagedAPIKey, context: ChangeContext) async throws -> ManagedAPIKey {
        try validate(key)
        return try await write { connection in
            _ = try await requireExists(
                ManagedApplication.self, id: key.applicationID, path: "applicationId", of: .apiKey, key.id,
                on: connection)
            try await checkKey(key, on: connection)
            var key = key
            key.revokedAt = key.revoked ? (key.revokedAt ?? now()) : nil
            var stored = try await insert(key, on: connection)
            try await writeKeySubscriptions(key, on: connection)
            stored.subscriptions = key.subscriptions
            try await recordChange(.apiKey, id: key.id, kind: .created, context: context, on: connection)
            return stored
        }
    }

    func updateAPIKey(
        _ key: ManagedAPIKey, expectedVersion: Int64, context: ChangeContext
    ) async throws
        -> ManagedAPIKey
    {
        try validate(key)
        return try await write { connection in
            let old = try await fetchOrThrow(ManagedAPIKey.self, id: key.id, on: connection)
            if old.applicationID != key.applicationID {
                throw StoreError.invalid(.apiKey, key.id, [.init(path: "applicationId", message: "cannot change")])
            }
            try await checkKey(key, on: connection)
            var key = key
            key.revokedAt = key.revoked ? (old.revoked ? old.revokedAt : now()) : nil
            var stored = try await replace(old, with: key, expectedVersion: expectedVersion, on: connection)
            try await writeKeySubscriptions(key, on: connection)
            stored.subscriptions = key.subscriptions
            try await recordChange(.apiKey, id: key.id, kind: .updated, context: context, on: connection)
            return stored
        }
    }

    func deleteAPIKey(id: String, expectedVersion: Int64?, context: ChangeContext) async throws {
        try await write { connection in
            let key = try await fetchOrThrow(ManagedAPIKey.self, id: id, on: connection)
            try Self.checkVersion(key, expected: expectedVersion)
            try await connection.execute("DELETE FROM api_key_subscriptions WHERE key_id = ?", [.text(id)])
            try await deleteRow(ManagedAPIKey.self, id: id, on: connection)
            try await recordChange(.apiKey, id: id, kind: .deleted, context: context, on: connection)
        }
    }

    func apiKey(id: String) async throws -> ManagedAPIKey {
        try await read { connection in
            let key = try await fetchOrThrow(ManagedAPIKey.self, id: id, on: connection)
            return try await withSubscriptions([key], on: connection)[0]
        }
    }

    func apiKey(hash: APIKeyHash) async throws -> ManagedAPIKey? {
        try await read { connection in
            guard
                let key = try await connection.query(
                    "\(Self.select(ManagedAPIKey.self)) WHERE key_hash = ?", [.text(hash.description)]
                ).first.map(ManagedAPIKey.init(row:))
            else { return nil }
            return try await withSubscriptions([key], on: connection).first
        }
    }

    func listAPIKeys(_ filter: APIKeyFilter, page: PageRequest) async throws -> Page<ManagedAPIKey> {
        var conditions: [(String, [SQLValue])] = []
        if let application = filter.applicationID { conditions.append(("application_id = ?", [.text(application)])) }
        if let subscription = filter.subscriptionID {
            conditions.append(
                ("id IN (SELECT key_id FROM api_key_subscriptions WHERE subscription_id = ?)", [.text(subscription)]))
        }
        if let revoked = filter.revoked { conditions.append(("revoked = ?", [SQLValue(revoked)])) }
        return try await read { [conditions] connection in
            var page = try await list(ManagedAPIKey.self, conditions: conditions, page: page, on: connection)
            page.items = try await withSubscriptions(page.items, on: connection)
            return page
        }
    }

    // MARK: Users

    func checkUser(_ user: ManagementUser, on connection: any SQLConnection) async throws {
        if !(try await connection.query(
            "SELECT id FROM users WHERE name = ? AND id <> ?", [.text(user.name), .text(user.id)]
        ).isEmpty) {
            throw StoreError(
                code: .conflict, message: "user name '\(user.name)' is taken", resourceType: .user, resourceID: user.id)
        }
        if !(try await connection.query(
            "SELECT id FROM users WHERE token_hash = ? AND id <> ?",
            [.text(user.tokenHash.description), .text(user.id)]
        ).isEmpty) {
            throw StoreError(
                code: .conflict, message: "another user has the same token", resourceType: .user, resourceID: user.id)
        }
    }

    func createUser(_ user: ManagementUser, context: ChangeContext) async throws -> ManagementUser {
        try await create(user, context: context) { try await checkUser(user, on: $0) }
    }

    func updateUser(
        _ user: ManagementUser, expectedVersion: Int64, context: ChangeContext
    ) async throws
        -> ManagementUser
    {
        try await update(user, expectedVersion: expectedVersion, context: context) {
            try await checkUser(user, on: $1)
        }
    }

    func deleteRecord<R: StoredRecord>(
        _ type: R.Type, id: String, expectedVersion: Int64?, context: ChangeContext
    )
        async throws
    {
        try await write { connection in
            let record = try await fetchOrThrow(R.self, id: id, on: connection)
            try Self.checkVersion(record, expected: expectedVersion)
            try await deleteRow(R.self, id: id, on: connection)
            try await recordChange(R.resourceType, id: id, kind: .deleted, context: context, on: connection)
        }
    }

    func user(tokenHash: APIKeyHash) async throws -> ManagementUser? {
        try await read { connection in
            try await connection.query(
                "\(Self.select(ManagementUser.self)) WHERE token_hash = ?", [.text(tokenHash.description)]
            ).first.map(ManagementUser.init(row:))
        }
    }

    func get<R: StoredRecord>(_ type: R.Type, id: String) async throws -> R {
        try await read { try await fetchOrThrow(R.self, id: id, on: $0) }
    }
}
