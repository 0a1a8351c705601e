public import Foundation

/// Where the PostgreSQL store is and how it talks to it.
public struct PostgresStoreConfiguration: Sendable {
    public var host: String
    /// Default: 5432.
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String?
    /// Whether the connection uses TLS (`sslmode` in a URL: `disable`, `prefer` or `require`). Default: disable.
    public var tls: TLSMode
    /// How long one store operation may take, waiting for a connection included, before it fails as unavailable
    /// (what keeps a gateway serving its last state when the database is gone). Default: 5 s.
    public var operationTimeout: Duration
    /// Default: 10.
    public var maximumConnections: Int

    public enum TLSMode: String, Sendable {
        case disable
        case prefer
        case require
    }

    public init(
        host: String, port: Int = 5432, username: String, password: String? = nil, database: String? = nil,
        tls: TLSMode = .disable, operationTimeout: Duration = .seconds(5), maximumConnections: Int = 10
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.operationTimeout = operationTimeout
        self.maximumConnections = maximumConnections
    }

    /// Reads `postgres://user:password@host:port/database?sslmode=disable` (or `postgresql://`).
    public init(url text: String) throws {
        func problem(_ message: String) -> StoreError {
            StoreError(
                code: .invalid, message: "the PostgreSQL URL is not valid",
                problems: [.init(path: "store.postgresUrl", message: message)])
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "postgres" || scheme == "postgresql"
        else { throw problem("must look like postgres://user:password@host:5432/database") }
        guard let host = components.host, !host.isEmpty else { throw problem("names no host") }
        guard let user = components.user, !user.isEmpty else { throw problem("names no user") }
        self.init(
            host: host, port: components.port ?? 5432, username: user.removingPercentEncoding ?? user,
            password: components.password.map { $0.removingPercentEncoding ?? $0 })
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        if !path.isEmpty { database = path.removingPercentEncoding ?? path }
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                switch item.value ?? "" {
                case "disable", "allow": tls = .disable
                case "prefer": tls = .prefer
                case "require", "verify-ca", "verify-full": tls = .require
                default: throw problem("sslmode must be disable, prefer or require")
                }
            default:
                throw problem("unknown parameter '\(item.name)' (only sslmode is read)")
            }
        }
    }
}
