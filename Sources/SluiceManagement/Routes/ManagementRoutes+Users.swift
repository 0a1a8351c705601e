import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

extension ManagementRoutes {
    func registerUsers(on router: Router<ManagementRequestContext>) {
        let base = Self.organization + "/users"
        router.get(RouterPath(base)) { request, _ in
            var query = QueryReader(request)
            let page = query.page()
            try query.check()
            let result = try await store.listUsers(page: PageRequest(page: page.page, perPage: page.perPage))
            return Self.json(Representation.page(result, at: request) { Representation.user($0) })
        }
        router.post(RouterPath(base)) { request, context in
            var body = try await RequestBody.object(of: request, limit: maxBodyBytes)
            let name = body.string("name", required: true, maximumLength: 200)
            let role = body.enumeration("role", ManagementUser.Role.self, required: true)
            let token = body.string("token", maximumLength: 1000)
            if let token { _ = Self.checkSecret(token, path: "token", into: &body) }
            try body.check("user")
            let clear = token ?? Self.newSecret()
            let user = ManagementUser(
                id: body.string("id") ?? Self.newID(), name: name!, role: role!, tokenHash: APIKeyHash(key: clear))
            let stored = try await store.createUser(user, context: context.change())
            return Self.json(
                Representation.user(stored, token: clear), status: .created, version: stored.version,
                location: "\(base)/\(stored.id)")
        }
        router.get(RouterPath(base + "/:userId")) { _, context in
            let user = try await store.user(id: try parameter(context, "userId"))
            return Self.json(Representation.user(user), version: user.version)
        }
        router.put(RouterPath(base + "/:userId")) { request, context in
            var user = try await store.user(id: try parameter(context, "userId"))
            var body = try await RequestBody.object(of: request, limit: maxBodyBytes)
            if let name = body.string("name", maximumLength: 200) { user.name = name }
            if let role = body.enumeration("role", ManagementUser.Role.self) {
                if user.id == context.user?.id, role != .admin {
                    body.problem("role", "an admin cannot take their own admin role away")
                }
                user.role = role
            }
            try body.check("user")
            let stored = try await changing(request, current: user.version) {
                try await store.updateUser(user, expectedVersion: $0, context: context.change())
            }
            await users.clear()
            return Self.json(Representation.user(stored), version: stored.version)
        }
        router.delete(RouterPath(base + "/:userId")) { request, context in
            let id = try parameter(context, "userId")
            if id == context.user?.id {
                throw ManagementProblem.conflict("a user cannot delete themselves: another admin can")
            }
            try await deleting(request) {
                try await store.deleteUser(id: id, expectedVersion: $0, context: context.change())
            }
            await users.clear()
            return Self.noContent()
        }
        router.post(RouterPath(base + "/:userId/_renew-token")) { request, context in
            var user = try await store.user(id: try parameter(context, "userId"))
            let clear = Self.newSecret()
            user.tokenHash = APIKeyHash(key: clear)
            let stored = try await changing(request, current: user.version) {
                try await store.updateUser(user, expectedVersion: $0, context: context.change("user.tokenRenewed"))
            }
            await users.clear()
            return Self.json(Representation.user(stored, token: clear), version: stored.version)
        }
    }

    func registerAudit(on router: Router<ManagementRequestContext>) {
        router.get(RouterPath(Self.environment + "/audit")) { request, _ in
            var query = QueryReader(request)
            let page = query.page()
            let type = query.enumeration("resourceType", ResourceType.self)
            let resourceID = query.string("resourceId")
            let actor = query.string("user")
            try query.check()
            let result = try await store.auditLog(
                AuditFilter(resourceType: type, resourceID: resourceID, actor: actor),
                page: PageRequest(page: page.page, perPage: page.perPage))
            return Self.json(Representation.page(result, at: request, Representation.audit))
        }
    }
}
