import Foundation
import Logging
import SluiceCore
import SluiceStore

/// Makes sure someone can use the management API, and nobody else: at first start (a store without users) an
/// admin is created with the configured token, or with a generated one printed once to standard error. A
/// configured token always opens the API: when no user has it, the `admin` user takes it.
public struct AdminBootstrap: Sendable {
    /// The configured token (`management.adminToken` or the first line of `management.adminTokenFile`).
    public var token: String?
    /// Where a generated token is written (once). Default: standard error.
    public var announce: @Sendable (String) -> Void

    public static let adminName = "admin"

    public init(token: String?, announce: @escaping @Sendable (String) -> Void = AdminBootstrap.standardError) {
        self.token = token
        self.announce = announce
    }

    public static let standardError: @Sendable (String) -> Void = { text in
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// The token in the first line of `path`.
    public static func token(fromFile path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let line = text.split(whereSeparator: \.isNewline).first?.trimmingCharacters(in: .whitespaces),
            line.count >= 16
        else {
            throw StoreError(
                code: .invalid, message: "the admin token file \(path) must hold a token of at least 16 characters")
        }
        return line
    }

    /// Returns the generated token, if one was made.
    @discardableResult
    public func run(on store: any ManagementStore, logger: Logger) async throws -> String? {
        let context = ChangeContext(actor: "system", action: nil)
        if let token {
            let hash = APIKeyHash(key: token)
            if try await store.user(tokenHash: hash) != nil { return nil }
            let users = try await store.listUsers(page: .all).items
            if var admin = users.first(where: { $0.name == Self.adminName }) {
                admin.tokenHash = hash
                admin.role = .admin
                try await store.updateUser(
                    admin, expectedVersion: admin.version,
                    context: ChangeContext(actor: "system", action: "user.tokenRenewed"))
                logger.notice("the admin user's token was replaced by the configured one")
            } else {
                try await store.createUser(
                    ManagementUser(id: Self.adminName, name: Self.adminName, role: .admin, tokenHash: hash),
                    context: context)
                logger.notice("management admin created with the configured token")
            }
            return nil
        }
        guard try await store.listUsers(page: PageRequest(page: 1, perPage: 1)).totalCount == 0 else { return nil }
        let generated = ManagementRoutes.newSecret()
        try await store.createUser(
            ManagementUser(
                id: Self.adminName, name: Self.adminName, role: .admin, tokenHash: APIKeyHash(key: generated)),
            context: context)
        announce(
            "sluice: management API admin token (shown once; keep it, or set SLUICE_MANAGEMENT_ADMIN_TOKEN): \(generated)"
        )
        return generated
    }
}
