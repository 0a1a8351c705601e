import HTTPTypes
import Hummingbird
import SluiceCore
import SluiceStore

/// Lets a request through only with the bearer token of a management user: an admin may do anything, a
/// read-only user may only read (GET and HEAD). The OpenAPI document and the status page are open: they hold no
/// data (the page asks for the status with the token its user gives it).
struct AccessMiddleware: RouterMiddleware {
    typealias Context = ManagementRequestContext
    let users: UserTokenCache

    static let openPaths: Set<String> = ["/management/openapi.json", "/status"]

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if Self.openPaths.contains(request.uri.path), request.method == .get || request.method == .head {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization] else {
            throw Self.unauthorized("this request needs a bearer token (Authorization: Bearer <token>)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer",
            case let token = parts[1].trimmingCharacters(in: .whitespaces), !token.isEmpty, token.utf8.count <= 4096
        else {
            throw Self.unauthorized("the Authorization header must be 'Bearer <token>'")
        }
        guard let user = try await users.user(token: token) else {
            throw Self.unauthorized("the bearer token is not valid")
        }
        if user.role == .readOnly, request.method != .get, request.method != .head {
            throw ManagementProblem(
                status: .forbidden, code: "forbidden", title: "Forbidden",
                detail: "user '\(user.name)' is read-only: only GET requests are allowed")
        }
        var context = context
        context.user = user
        return try await next(request, context)
    }

    static func unauthorized(_ detail: String) -> ManagementProblem {
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = "Bearer realm=\"sluice-management\""
        return ManagementProblem(
            status: .unauthorized, code: "unauthorized", title: "Unauthorized", detail: detail, headers: headers)
    }
}

/// Resolves bearer tokens to users, remembering each answer briefly so that a burst of reads does not read the
/// users table for every request. A user deleted or given a new token loses access within ``lifetime``.
actor UserTokenCache {
    let store: any ManagementStore
    /// Default: 1 s.
    let lifetime: Duration
    private var entries: [String: (user: ManagementUser?, until: ContinuousClock.Instant)] = [:]

    init(store: any ManagementStore, lifetime: Duration = .seconds(1)) {
        self.store = store
        self.lifetime = lifetime
    }

    func user(token: String) async throws -> ManagementUser? {
        let hash = APIKeyHash(key: token)
        let key = hash.description
        let now = ContinuousClock.now
        if let entry = entries[key], entry.until > now { return entry.user }
        let user = try await store.user(tokenHash: hash)
        if entries.count > 10_000 { entries.removeAll() }
        entries[key] = (user, now + lifetime)
        return user
    }

    /// Forgets every answer (after a user changed through this API, so that the change holds at once here).
    func clear() { entries.removeAll() }
}
