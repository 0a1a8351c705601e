import Foundation
import Logging
import SluiceCore
import Testing

@testable import SluiceStore

/// What every management store does, whatever its database: run by ``SQLiteStoreContractTests`` and
/// ``PostgresStoreContractTests``.
enum StoreContract {
    static func crud(_ store: any ManagementStore) async throws {
        let chain = try await seedChain(store)
        // Read back what was written, with the store's stamps.
        let api = try await store.api(id: "orders")
        #expect(api.name == "Orders")
        #expect(api.version == 1)
        #expect(api.lifecycleState == .stopped)
        #expect(api.createdAt == api.updatedAt)
        #expect(api.definition == chain.api.definition)
        let plan = try await store.plan(id: "orders-key")
        #expect(plan.apiID == "orders" && plan.securityType == "api-key" && plan.status == .published)
        let application = try await store.application(id: "shop")
        #expect(application.description == "the shop" && application.clientID == "shop-client")
        let subscription = try await store.subscription(id: "sub")
        #expect(subscription.metadata == ["team": "sales"] && subscription.status == .accepted)
        let key = try await store.apiKey(id: "key")
        #expect(key.subscriptions == ["sub"])
        #expect(key.hash.constantTimeEquals(APIKeyHash(key: "secret-key")))
        #expect(try await store.apiKey(hash: APIKeyHash(key: "secret-key"))?.id == "key")
        #expect(try await store.apiKey(hash: APIKeyHash(key: "other")) == nil)

        // Updates raise the version and keep the creation time.
        var started = api
        started.lifecycleState = .started
        started.deploymentRevision = 2
        try await Task.sleep(for: .milliseconds(5))
        let updated = try await store.updateAPI(started, expectedVersion: 1, context: actor)
        #expect(updated.version == 2 && updated.createdAt == api.createdAt && updated.updatedAt >= api.updatedAt)
        #expect(try await store.api(id: "orders").lifecycleState == .started)
        #expect(try await store.api(id: "orders").deploymentRevision == 2)

        var closed = plan
        closed.status = .deprecated
        #expect(try await store.updatePlan(closed, expectedVersion: 1, context: actor).status == .deprecated)

        var renamed = application
        renamed.name = "Shop 2"
        renamed.clientID = nil
        #expect(try await store.updateApplication(renamed, expectedVersion: 1, context: actor).clientID == nil)

        var paused = subscription
        paused.status = .paused
        paused.endingAt = Date(timeIntervalSince1970: 2_000_000_000)
        paused.configuration =
            #"{"entrypointId":"webhook","entrypointConfiguration":{"callbackUrl":"http://127.0.0.1:1/hook"}}"#
        let savedSubscription = try await store.updateSubscription(paused, expectedVersion: 1, context: actor)
        #expect(savedSubscription.status == .paused)
        #expect(try await store.subscription(id: "sub").endingAt == Date(timeIntervalSince1970: 2_000_000_000))
        #expect(try await store.subscription(id: "sub").configuration == paused.configuration)

        // Revoking a key stamps when.
        var revoked = key
        revoked.revoked = true
        let savedKey = try await store.updateAPIKey(revoked, expectedVersion: 1, context: actor)
        #expect(savedKey.revoked && savedKey.revokedAt != nil && savedKey.version == 2)
        #expect(try await store.apiKey(id: "key").revoked)

        // Users.
        let user = try await store.createUser(
            ManagementUser(id: "u1", name: "admin", role: .admin, tokenHash: APIKeyHash(key: "token-1")),
            context: actor)
        #expect(try await store.user(tokenHash: APIKeyHash(key: "token-1"))?.id == "u1")
        var readOnly = user
        readOnly.role = .readOnly
        #expect(try await store.updateUser(readOnly, expectedVersion: 1, context: actor).role == .readOnly)
        #expect(try await store.listUsers(page: .all).items.map(\.id) == ["u1"])
        try await store.deleteUser(id: "u1", expectedVersion: 2, context: actor)
        #expect(try await store.user(tokenHash: APIKeyHash(key: "token-1")) == nil)

        // Deletions, then not found.
        try await store.deleteAPIKey(id: "key", expectedVersion: 2, context: actor)
        #expect(await storeError { _ = try await store.apiKey(id: "key") }?.code == .notFound)
        try await store.deleteSubscription(id: "sub", expectedVersion: nil, context: actor)
        #expect(await storeError { _ = try await store.subscription(id: "sub") }?.code == .notFound)
        try await store.deletePlan(id: "orders-key", expectedVersion: 2, context: actor)
        try await store.deleteApplication(id: "shop", expectedVersion: nil, context: actor)
        try await store.deleteAPI(id: "orders", expectedVersion: 2, context: actor)
        let missing = await storeError { _ = try await store.api(id: "orders") }
        #expect(missing?.code == .notFound && missing?.resourceType == .api && missing?.resourceID == "orders")
        #expect(
            await storeError { try await store.deleteAPI(id: "orders", expectedVersion: nil, context: actor) }?.code
                == .notFound)
    }

    static func importing(_ store: any ManagementStore) async throws {
        let plans = [
            ManagedPlan(id: "p1", apiID: "imported", name: "Key", securityType: "api-key", status: .published),
            ManagedPlan(id: "p2", apiID: "imported", name: "Free", securityType: "key-less", status: .staging),
        ]
        let api = ManagedAPI(id: "imported", name: "Imported", definition: definition("imported"))
        let (stored, storedPlans) = try await store.importAPI(api, plans: plans, context: actor)
        #expect(stored.version == 1 && storedPlans.map(\.version) == [1, 1])
        #expect(try await store.listPlans(PlanFilter(apiID: "imported"), page: .all).items.map(\.id) == ["p1", "p2"])
        #expect(try await store.events(after: 0, limit: 10).map(\.resourceID) == ["imported", "p1", "p2"])
        // All or nothing: a plan id that is taken refuses the whole import.
        let again = ManagedAPI(id: "imported-2", name: "Again", definition: definition("imported-2"))
        let taken = [ManagedPlan(id: "p1", apiID: "imported-2", name: "Key", securityType: "api-key")]
        #expect(await storeError { try await store.importAPI(again, plans: taken, context: actor) }?.code == .conflict)
        #expect(await storeError { _ = try await store.api(id: "imported-2") }?.code == .notFound)
        // Bad plans are reported by their place in the import.
        let bad = [
            ManagedPlan(id: "q1", apiID: "other", name: "", securityType: "api-key"),
            ManagedPlan(id: "q1", apiID: "imported-2", name: "Q", securityType: "api-key", definition: "[]"),
        ]
        let error = await storeError { try await store.importAPI(again, plans: bad, context: actor) }
        #expect(error?.code == .invalid)
        #expect(error?.problems.map(\.path) == ["plans[0].name", "plans[0].apiId", "plans[1].definition", "plans"])
        #expect(try await store.latestEventSequence() == 3)
    }

    static func cascades(_ store: any ManagementStore) async throws {
        try await seedChain(store)
        // A second subscription on the same key, to another API, survives the first API's deletion.
        try await store.createAPI(
            ManagedAPI(id: "stock", name: "Stock", definition: definition("stock")), context: actor)
        try await store.createPlan(
            ManagedPlan(id: "stock-key", apiID: "stock", name: "Key", securityType: "api-key", status: .published),
            context: actor)
        try await store.createSubscription(
            ManagedSubscription(id: "sub2", applicationID: "shop", apiID: "stock", planID: "stock-key"), context: actor)
        let key = try await store.apiKey(id: "key")
        var both = key
        both.subscriptions = ["sub", "sub2"]
        #expect(
            try await store.updateAPIKey(both, expectedVersion: key.version, context: actor).subscriptions == [
                "sub", "sub2",
            ])

        try await store.deleteAPI(id: "orders", expectedVersion: nil, context: actor)
        #expect(await storeError { _ = try await store.plan(id: "orders-key") }?.code == .notFound)
        #expect(await storeError { _ = try await store.subscription(id: "sub") }?.code == .notFound)
        let after = try await store.apiKey(id: "key")
        #expect(after.subscriptions == ["sub2"])
        #expect(after.version == 3)

        try await store.deleteApplication(id: "shop", expectedVersion: nil, context: actor)
        #expect(await storeError { _ = try await store.apiKey(id: "key") }?.code == .notFound)
        #expect(await storeError { _ = try await store.subscription(id: "sub2") }?.code == .notFound)
        #expect(try await store.listSubscriptions(SubscriptionFilter(), page: .all).totalCount == 0)
    }

    static func conflicts(_ store: any ManagementStore) async throws {
        let chain = try await seedChain(store)
        // The same id twice.
        let duplicate = await storeError { _ = try await store.createAPI(chain.api, context: actor) }
        #expect(duplicate?.code == .conflict && duplicate?.resourceID == "orders")
        // A stale version: nothing changes, and the error says which version is current.
        var first = chain.api
        first.name = "First"
        _ = try await store.updateAPI(first, expectedVersion: 1, context: actor)
        var second = chain.api
        second.name = "Second"
        let stale = await storeError { _ = try await store.updateAPI(second, expectedVersion: 1, context: actor) }
        #expect(stale?.code == .conflict && stale?.currentVersion == 2)
        #expect(try await store.api(id: "orders").name == "First")
        #expect(
            await storeError { try await store.deleteAPI(id: "orders", expectedVersion: 1, context: actor) }?.code
                == .conflict)
        #expect(try await store.api(id: "orders").version == 2)
        // Updating something that does not exist.
        var ghost = chain.plan
        ghost.id = "ghost"
        #expect(
            await storeError { _ = try await store.updatePlan(ghost, expectedVersion: 1, context: actor) }?.code
                == .notFound)
        // Unique values: a key's digest, an application's client id, a user's name and token.
        let sameKey = await storeError {
            _ = try await store.createAPIKey(
                ManagedAPIKey(
                    id: "key2", applicationID: "shop", hash: APIKeyHash(key: "secret-key"), subscriptions: ["sub"]),
                context: actor)
        }
        #expect(sameKey?.code == .conflict)
        let sameClient = await storeError {
            _ = try await store.createApplication(
                ManagedApplication(id: "shop2", name: "Other", clientID: "shop-client"), context: actor)
        }
        #expect(sameClient?.code == .conflict)
        try await store.createUser(
            ManagementUser(id: "u1", name: "admin", role: .admin, tokenHash: APIKeyHash(key: "t1")), context: actor)
        #expect(
            await storeError {
                _ = try await store.createUser(
                    ManagementUser(id: "u2", name: "admin", role: .admin, tokenHash: APIKeyHash(key: "t2")),
                    context: actor)
            }?.code == .conflict)
        #expect(
            await storeError {
                _ = try await store.createUser(
                    ManagementUser(id: "u3", name: "other", role: .readOnly, tokenHash: APIKeyHash(key: "t1")),
                    context: actor)
            }?.code == .conflict)
        // Concurrent updates with the same expected version: exactly one wins.
        let current = try await store.application(id: "shop")
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<8 {
                group.addTask {
                    var changed = current
                    changed.name = "writer \(index)"
                    do {
                        _ = try await store.updateApplication(changed, expectedVersion: current.version, context: actor)
                        return true
                    } catch let error as StoreError where error.code == .conflict {
                        return false
                    }
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 1)
        #expect(try await store.application(id: "shop").version == current.version + 1)
    }

    static func paging(_ store: any ManagementStore) async throws {
        for index in 0..<25 {
            let id = String(format: "api-%02d", index)
            let name = index == 7 ? "Special 100%_Done" : (index % 2 == 0 ? "Even \(index)" : "Odd \(index)")
            try await store.createAPI(
                ManagedAPI(
                    id: id, name: name, definition: definition(id), lifecycleState: index % 5 == 0 ? .started : .stopped
                ),
                context: actor)
        }
        let first = try await store.listAPIs(APIFilter(), page: PageRequest(page: 1, perPage: 10))
        #expect(first.items.count == 10 && first.totalCount == 25 && first.pageCount == 3)
        #expect(first.items.map(\.id) == (0..<10).map { String(format: "api-%02d", $0) })
        let third = try await store.listAPIs(APIFilter(), page: PageRequest(page: 3, perPage: 10))
        #expect(third.items.map(\.id) == (20..<25).map { String(format: "api-%02d", $0) })
        let beyond = try await store.listAPIs(APIFilter(), page: PageRequest(page: 4, perPage: 10))
        #expect(beyond.items.isEmpty && beyond.totalCount == 25)
        let started = try await store.listAPIs(APIFilter(lifecycleState: .started), page: .all)
        #expect(started.items.map(\.id) == ["api-00", "api-05", "api-10", "api-15", "api-20"])
        #expect(try await store.listAPIs(APIFilter(nameContains: "EVEN"), page: .all).totalCount == 13)
        // `%` and `_` are matched as themselves.
        #expect(try await store.listAPIs(APIFilter(nameContains: "100%_"), page: .all).items.map(\.id) == ["api-07"])
        #expect(try await store.listAPIs(APIFilter(nameContains: "%"), page: .all).totalCount == 1)
        #expect(
            try await store.listAPIs(APIFilter(lifecycleState: .started, nameContains: "odd"), page: .all).items.map(
                \.id) == ["api-05", "api-15"])
        // Bad page requests.
        let badPage = await storeError {
            _ = try await store.listAPIs(APIFilter(), page: PageRequest(page: 0, perPage: 5000))
        }
        #expect(badPage?.code == .invalid && badPage?.problems.map(\.path) == ["page", "perPage"])

        // Plans, subscriptions and keys by their filters.
        try await seedChain(store)
        try await store.createPlan(
            ManagedPlan(id: "orders-free", apiID: "orders", name: "Free", securityType: "key-less", status: .staging),
            context: actor)
        #expect(try await store.listPlans(PlanFilter(apiID: "orders"), page: .all).totalCount == 2)
        #expect(
            try await store.listPlans(PlanFilter(statuses: [.published, .deprecated]), page: .all).items.map(\.id) == [
                "orders-key"
            ])
        #expect(try await store.listPlans(PlanFilter(apiID: "api-00"), page: .all).totalCount == 0)
        #expect(
            try await store.listPlans(PlanFilter(apiID: "orders", securityTypes: ["key-less", "jwt"]), page: .all)
                .items.map(\.id) == ["orders-free"])
        #expect(
            try await store.listSubscriptions(SubscriptionFilter(apiID: "orders", statuses: [.accepted]), page: .all)
                .totalCount == 1)
        #expect(
            try await store.listSubscriptions(SubscriptionFilter(applicationID: "nobody"), page: .all).totalCount == 0)
        // Any of several applications or plans.
        let anyOf = try await store.listSubscriptions(
            SubscriptionFilter(applicationIDs: ["nobody", "shop"], planIDs: ["orders-key", "orders-free"]), page: .all)
        #expect(anyOf.items.map(\.id) == ["sub"])
        #expect(
            try await store.listSubscriptions(SubscriptionFilter(planIDs: ["orders-free"]), page: .all).totalCount == 0)
        #expect(
            try await store.listAPIKeys(APIKeyFilter(subscriptionID: "sub"), page: .all).items.map(\.subscriptions) == [
                ["sub"]
            ])
        #expect(try await store.listAPIKeys(APIKeyFilter(revoked: true), page: .all).totalCount == 0)
        #expect(
            try await store.listApplications(ApplicationFilter(clientID: "shop-client"), page: .all).items.map(\.id)
                == ["shop"])
    }

    static func events(_ store: any ManagementStore) async throws {
        let start = try await store.latestEventSequence()
        #expect(start == 0)
        try await seedChain(store)
        var api = try await store.api(id: "orders")
        api.lifecycleState = .started
        _ = try await store.updateAPI(api, expectedVersion: 1, context: actor)
        try await store.deleteAPI(id: "orders", expectedVersion: nil, context: actor)
        let events = try await store.events(after: 0, limit: 100)
        let summary = events.map { "\($0.resourceType.rawValue):\($0.resourceID):\($0.kind.rawValue)" }
        #expect(
            summary == [
                "API:orders:CREATED", "PLAN:orders-key:CREATED", "APPLICATION:shop:CREATED", "SUBSCRIPTION:sub:CREATED",
                "API_KEY:key:CREATED", "API:orders:UPDATED",
                // The deletion's cascade: the subscription leaves the key, then goes, then the plan, then the API.
                "API_KEY:key:UPDATED", "SUBSCRIPTION:sub:DELETED", "PLAN:orders-key:DELETED", "API:orders:DELETED",
            ])
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
        #expect(try await store.latestEventSequence() == events.last?.sequence)
        // Reading from a cursor, in pages.
        let afterFifth = try await store.events(after: events[4].sequence, limit: 2)
        #expect(afterFifth.map(\.sequence) == [events[5].sequence, events[6].sequence])
        #expect(try await store.events(after: events.last!.sequence, limit: 10).isEmpty)
        #expect(await storeError { _ = try await store.events(after: 0, limit: 0) }?.code == .invalid)
        // Concurrent writers: every change gets its event, in increasing order, none lost.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                group.addTask {
                    _ = try await store.createApplication(
                        ManagedApplication(id: "app-\(index)", name: "App \(index)"), context: actor)
                }
            }
            try await group.waitForAll()
        }
        let later = try await store.events(after: events.last!.sequence, limit: 100)
        #expect(later.count == 20)
        #expect(Set(later.map(\.resourceID)) == Set((0..<20).map { "app-\($0)" }))
        #expect(zip(later, later.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
        // A failed change writes no event.
        _ = await storeError {
            _ = try await store.createApplication(ManagedApplication(id: "app-1", name: "Again"), context: actor)
        }
        #expect(try await store.latestEventSequence() == later.last?.sequence)
    }

    static func pruning(_ store: any ManagementStore) async throws {
        #expect(try await store.eventRange() == EventRange(oldest: 0, latest: 0))
        #expect(try await store.pruneEvents(before: Date().addingTimeInterval(3600)) == 0)
        for index in 0..<3 {
            _ = try await store.createApplication(ManagedApplication(id: "old-\(index)", name: "Old"), context: actor)
        }
        try await Task.sleep(for: .milliseconds(20))
        let cutoff = Date()
        try await Task.sleep(for: .milliseconds(20))
        for index in 0..<2 {
            _ = try await store.createApplication(ManagedApplication(id: "new-\(index)", name: "New"), context: actor)
        }
        let all = try await store.events(after: 0, limit: 100)
        #expect(all.count == 5)
        #expect(try await store.eventRange() == EventRange(oldest: all[0].sequence, latest: all[4].sequence))
        // The pruner keeps `retention` back from its clock: an hour after the cut-off, with an hour's retention.
        let pruner = EventPruner(
            store: store, retention: .seconds(3600), now: { cutoff.addingTimeInterval(3600) },
            logger: Logger(label: "test"))
        #expect(await pruner.pruneOnce() == 3)
        let kept = try await store.events(after: 0, limit: 100)
        #expect(kept.map(\.resourceID) == ["new-0", "new-1"])
        let range = try await store.eventRange()
        #expect(range == EventRange(oldest: all[3].sequence, latest: all[4].sequence))
        // A reader that had applied up to the third event misses nothing; one further back has lost events.
        #expect(range.canContinue(from: all[2].sequence))
        #expect(range.canContinue(from: all[4].sequence))
        #expect(!range.canContinue(from: all[1].sequence))
        #expect(!range.canContinue(from: all[4].sequence + 1))
        // Everything old goes but the newest event, so sequences carry on from it.
        #expect(try await store.pruneEvents(before: Date().addingTimeInterval(3600)) == 1)
        #expect(try await store.eventRange() == EventRange(oldest: all[4].sequence, latest: all[4].sequence))
        _ = try await store.createApplication(ManagedApplication(id: "after", name: "After"), context: actor)
        let after = try await store.events(after: all[4].sequence, limit: 10)
        #expect(after.map(\.resourceID) == ["after"])
        // The audit log keeps every change.
        #expect(try await store.auditLog(AuditFilter(), page: .all).totalCount == 6)
    }

    static func audit(_ store: any ManagementStore) async throws {
        try await seedChain(store)
        var key = try await store.apiKey(id: "key")
        key.revoked = true
        _ = try await store.updateAPIKey(
            key, expectedVersion: 1,
            context: ChangeContext(actor: "bob", action: "apiKey.revoked", detail: #"{"reason":"leaked"}"#))
        let log = try await store.auditLog(AuditFilter(), page: .all)
        #expect(log.totalCount == 6)
        #expect(
            log.items.map(\.action) == [
                "apiKey.revoked", "apiKey.created", "subscription.created", "application.created", "plan.created",
                "api.created",
            ])
        let newest = try #require(log.items.first)
        #expect(newest.actor == "bob" && newest.resourceType == .apiKey && newest.resourceID == "key")
        #expect(newest.detail == #"{"reason":"leaked"}"#)
        #expect(log.items.dropFirst().allSatisfy { $0.actor == "alice" && $0.detail == nil })
        #expect(zip(log.items, log.items.dropFirst()).allSatisfy { $0.sequence > $1.sequence && $0.at >= $1.at })
        #expect(try await store.auditLog(AuditFilter(actor: "bob"), page: .all).items.map(\.resourceID) == ["key"])
        let byKey = try await store.auditLog(
            AuditFilter(resourceType: .apiKey, resourceID: "key"), page: PageRequest(page: 2, perPage: 1))
        #expect(byKey.totalCount == 2 && byKey.items.map(\.action) == ["apiKey.created"])
        // A failed change leaves no audit entry.
        _ = await storeError {
            _ = try await store.createAPI(ManagedAPI(id: "orders", name: "x", definition: "{}"), context: actor)
        }
        #expect(try await store.auditLog(AuditFilter(), page: .all).totalCount == 6)
    }

    static func badInput(_ store: any ManagementStore) async throws {
        func problems(_ body: () async throws -> Void) async -> [String] {
            let error = await storeError(body)
            #expect(error?.code == .invalid, "\(String(describing: error))")
            return error?.problems.map(\.path) ?? []
        }
        #expect(
            await problems {
                _ = try await store.createAPI(ManagedAPI(id: "", name: " ", definition: "{not json"), context: actor)
            } == ["id", "name", "definition"])
        #expect(
            await problems {
                _ = try await store.createAPI(ManagedAPI(id: "a/b", name: "x", definition: "[1]"), context: actor)
            } == ["id", "definition"])
        #expect(
            await problems {
                _ = try await store.createAPI(
                    ManagedAPI(id: "a", name: "x", definition: definition("b")), context: actor)
            } == ["definition.id"])
        #expect(
            await problems {
                _ = try await store.createAPI(
                    ManagedAPI(id: "a", name: "x", definition: "{}", deploymentRevision: -1), context: actor)
            } == ["deploymentRevision"])
        #expect(
            await problems {
                _ = try await store.createPlan(
                    ManagedPlan(id: "p", apiID: "nope", name: "P", securityType: "api-key"), context: actor)
            } == ["apiId"])
        try await seedChain(store)
        #expect(
            await problems {
                _ = try await store.createPlan(
                    ManagedPlan(
                        id: "p", apiID: "orders", name: "P", securityType: "api key", securityConfiguration: "3",
                        definition: "null"), context: actor)
            } == ["security.type", "security.configuration", "definition"])
        try await store.createAPI(
            ManagedAPI(id: "stock", name: "Stock", definition: definition("stock")), context: actor)
        let mismatch = await storeError {
            _ = try await store.createSubscription(
                ManagedSubscription(id: "s2", applicationID: "shop", apiID: "stock", planID: "orders-key"),
                context: actor)
        }
        #expect(
            mismatch?.code == .invalid && mismatch?.problems.first?.message.contains("belongs to API 'orders'") == true)
        #expect(
            await problems {
                _ = try await store.createSubscription(
                    ManagedSubscription(id: "s3", applicationID: "ghost", apiID: "orders", planID: "orders-key"),
                    context: actor)
            } == ["applicationId"])
        let window = ManagedSubscription(
            id: "s4", applicationID: "shop", apiID: "orders", planID: "orders-key",
            startingAt: Date(timeIntervalSince1970: 2000), endingAt: Date(timeIntervalSince1970: 1000),
            configuration: "[]")
        #expect(
            await problems { _ = try await store.createSubscription(window, context: actor) } == [
                "endingAt", "configuration",
            ])
        #expect(
            await problems {
                _ = try await store.createAPIKey(
                    ManagedAPIKey(id: "k2", applicationID: "shop", hash: APIKeyHash(key: "x"), subscriptions: []),
                    context: actor)
            } == ["subscriptions"])
        #expect(
            await problems {
                _ = try await store.createAPIKey(
                    ManagedAPIKey(
                        id: "k2", applicationID: "shop", hash: APIKeyHash(key: "x"),
                        subscriptions: ["sub", "nope", "sub"]), context: actor)
            } == ["subscriptions"])
        #expect(
            await problems {
                _ = try await store.createAPIKey(
                    ManagedAPIKey(id: "k2", applicationID: "shop", hash: APIKeyHash(key: "x"), subscriptions: ["nope"]),
                    context: actor)
            } == ["subscriptions[0]"])
        try await store.createApplication(ManagedApplication(id: "other", name: "Other"), context: actor)
        #expect(
            await problems {
                _ = try await store.createAPIKey(
                    ManagedAPIKey(id: "k3", applicationID: "other", hash: APIKeyHash(key: "y"), subscriptions: ["sub"]),
                    context: actor)
            } == ["subscriptions[0]"])
        // What never changes.
        var moved = try await store.plan(id: "orders-key")
        moved.apiID = "stock"
        #expect(
            await problems { _ = try await store.updatePlan(moved, expectedVersion: 1, context: actor) } == ["apiId"])
        var switched = try await store.subscription(id: "sub")
        switched.applicationID = "other"
        #expect(
            await problems { _ = try await store.updateSubscription(switched, expectedVersion: 1, context: actor) } == [
                "applicationId"
            ])
        var rehomed = try await store.apiKey(id: "key")
        rehomed.applicationID = "other"
        #expect(
            await problems { _ = try await store.updateAPIKey(rehomed, expectedVersion: 1, context: actor) } == [
                "applicationId"
            ])
        // Text that SQL would treat specially is stored as it is.
        let odd = "x'); DROP TABLE apis; --"
        try await store.createApplication(
            ManagedApplication(id: "odd", name: odd, description: "quote ' and ? and $1"), context: actor)
        #expect(try await store.application(id: "odd").name == odd)
        #expect(try await store.application(id: "odd").description == "quote ' and ? and $1")
        #expect(try await store.listAPIs(APIFilter(), page: .all).totalCount == 2)
    }
}
