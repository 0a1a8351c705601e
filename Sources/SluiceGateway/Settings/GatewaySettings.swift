public import Foundation
import HTTPTypes
public import Logging
public import SluiceCore
public import SluiceEntrypoints
import Yams

/// How a gateway runs. Each setting comes from, in order of precedence: a command-line option, a `SLUICE_*`
/// environment variable, the settings file, the default.
public struct GatewaySettings: Sendable {
    /// Default: 0.0.0.0.
    public var host = "0.0.0.0"
    /// Default: 8082 (Gravitee's gateway port).
    public var port = 8082
    /// A definition file or a directory of them. Default: none (no API).
    public var apis: String?
    /// How often the definitions are checked for changes. Default: 1000 ms.
    public var reloadIntervalMs = 1000
    /// How long a shutdown waits for open requests and streams to finish. Default: 10 s.
    public var drainTimeoutSeconds = 10.0
    /// Default: info.
    public var logLevel = Logger.Level.info
    public var limits = GatewayLimits()
    public var security = SecuritySettings()
    /// Which callback URLs webhook subscriptions may name (`webhooks.callbackAllowList`, comma-separated host
    /// names, `*.` patterns, addresses and CIDR blocks) and which addresses no callback may reach
    /// (`webhooks.callbackDenyList`, addresses, CIDR blocks and `private`). Default: any host, any address.
    public var webhookCallbacks = WebhookCallbackPolicy()
    /// This node's name, stable across its restarts and unique among the nodes that share a broker (`nodeId`): it
    /// names the node's MQTT 5 persistent session of each at-least-once webhook subscription, so a restarted node
    /// resumes it. Default: the host name and `port` (`effectiveNodeID`).
    public var nodeID: String?
    /// The port of the Prometheus metrics listener (`metrics.port`, on `host`): `GET /_node/metrics/prometheus` and
    /// `/metrics`. 0 picks a free port. Default: none (no listener).
    public var metricsPort: Int?
    /// Where APIs, plans, applications, subscriptions and keys are managed (`store.*`). Default: no store, the
    /// gateway serves `apis` alone.
    public var store = StoreSettings()
    /// What `sluice serve` runs (`role`). Default: nil, which is `all` with a store and `gateway` without
    /// (`effectiveRole`).
    public var role: ServeRole?
    /// The management REST API (`management.*`).
    public var management = ManagementSettings()
    /// The metrics path and label limits, and the access log (`docs/observability.md`).
    public var observability = ObservabilitySettings()

    public init() {}

    /// `role`, or what runs by default: the gateway alone without a store, gateway and management API with one.
    public var effectiveRole: ServeRole {
        role ?? (store.kind == .none ? .gateway : .all)
    }

    /// `nodeID`, or the host name and the configured port.
    public var effectiveNodeID: String {
        nodeID ?? "\(ProcessInfo.processInfo.hostName):\(port)"
    }

    /// The settings problems found, each naming the setting.
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public var setting: String
        public var message: String
        public var description: String { "\(setting): \(message)" }
    }

    /// Applies a YAML or JSON settings file.
    public mutating func apply(file path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let root = try Yams.load(yaml: text) as? [String: Any] else {
            throw Problem(setting: path, message: "a settings file must be a mapping")
        }
        var flat: [String: String] = [:]
        func flatten(_ value: Any, prefix: String) {
            if let map = value as? [String: Any] {
                for (key, child) in map { flatten(child, prefix: prefix.isEmpty ? key : "\(prefix).\(key)") }
            } else if let list = value as? [Any] {
                // A list (webhooks.callbackAllowList) reads as its comma-separated text, as in the environment.
                flat[prefix] = list.map { "\($0)" }.joined(separator: ",")
            } else {
                flat[prefix] = "\(value)"
            }
        }
        flatten(root, prefix: "")
        try apply(values: flat, source: path)
    }

    /// Applies `SLUICE_*` variables: `SLUICE_PORT`, `SLUICE_LIMITS_MAX_REQUEST_BODY_BYTES`, …
    public mutating func apply(environment: [String: String]) throws {
        var values: [String: String] = [:]
        for key in Self.keys + ObservabilitySettings.keys {
            let variable = "SLUICE_" + key.replacingOccurrences(of: ".", with: "_").camelToSnake().uppercased()
            if let value = environment[variable] { values[key] = value }
        }
        try apply(values: values, source: "environment")
    }

    static let keys = [
        "host", "port", "apis", "reloadIntervalMs", "drainTimeoutSeconds", "logLevel",
        "limits.maxRequestBodyBytes", "limits.maxMessageBytes", "limits.maxHeaderBytes",
        "limits.maxStreamingConnections", "limits.maxPollMessages", "limits.maxRateLimitCounters",
        "security.jwtClockSkewSeconds",
        "security.maxTokenBytes", "security.tokenCacheEntries", "security.jwksRefreshSeconds",
        "security.jwksMinimumRefreshSeconds", "security.apiKeyHeader", "security.apiKeyQueryParameter",
        "webhooks.callbackAllowList", "webhooks.callbackDenyList", "nodeId", "metrics.port",
        "store.kind", "store.dataDirectory", "store.postgresUrl", "store.pollIntervalMs", "store.sharedRateLimits",
        "store.operationTimeoutMs", "store.eventRetentionSeconds", "role", "management.host", "management.port",
        "management.adminToken",
        "management.adminTokenFile", "management.maxRequestBodyBytes",
    ]

    mutating func apply(values: [String: String], source: String) throws {
        var problems: [Problem] = []
        func int(_ key: String, _ minimum: Int, _ apply: (inout GatewaySettings, Int) -> Void) {
            guard let text = values[key] else { return }
            guard let value = Int(text), value >= minimum else {
                problems.append(Problem(setting: key, message: "must be an integer of at least \(minimum) (\(source))"))
                return
            }
            apply(&self, value)
        }
        for key in values.keys where !Self.keys.contains(key) && !ObservabilitySettings.keys.contains(key) {
            problems.append(Problem(setting: key, message: "unknown setting (\(source))"))
        }
        if let host = values["host"] { self.host = host }
        int("port", 0) { $0.port = $1 }
        int("metrics.port", 0) { $0.metricsPort = $1 }
        if let apis = values["apis"] { self.apis = apis }
        if let nodeID = values["nodeId"] {
            if nodeID.isEmpty {
                problems.append(Problem(setting: "nodeId", message: "must not be empty (\(source))"))
            } else {
                self.nodeID = nodeID
            }
        }
        int("reloadIntervalMs", 50) { $0.reloadIntervalMs = $1 }
        if let text = values["drainTimeoutSeconds"] {
            // At most a day (neither infinite nor NaN): the drain's deadline is made of it in milliseconds.
            if let value = Double(text), (0...86_400).contains(value) {
                drainTimeoutSeconds = value
            } else {
                problems.append(
                    Problem(
                        setting: "drainTimeoutSeconds",
                        message: "must be a number of seconds from 0 to 86400 (\(source))"))
            }
        }
        if let text = values["logLevel"] {
            if let level = Logger.Level(rawValue: text.lowercased()) {
                logLevel = level
            } else {
                problems.append(
                    Problem(
                        setting: "logLevel",
                        message: "must be one of trace, debug, info, notice, warning, error, critical (\(source))"))
            }
        }
        int("limits.maxRequestBodyBytes", 1) { $0.limits.maxRequestBodyBytes = $1 }
        int("limits.maxMessageBytes", 1) { $0.limits.maxMessageBytes = $1 }
        int("limits.maxHeaderBytes", 1024) { $0.limits.maxHeaderBytes = $1 }
        int("limits.maxStreamingConnections", 1) { $0.limits.maxStreamingConnections = $1 }
        int("limits.maxPollMessages", 1) { $0.limits.maxPollMessages = $1 }
        int("limits.maxRateLimitCounters", 1) { $0.limits.maxRateLimitCounters = $1 }
        int("security.jwtClockSkewSeconds", 0) { $0.security.jwtClockSkewSeconds = $1 }
        int("security.maxTokenBytes", 256) { $0.security.maxTokenBytes = $1 }
        int("security.tokenCacheEntries", 1) { $0.security.tokenCacheEntries = $1 }
        int("security.jwksRefreshSeconds", 1) { $0.security.jwksRefreshSeconds = $1 }
        int("security.jwksMinimumRefreshSeconds", 0) { $0.security.jwksMinimumRefreshSeconds = $1 }
        if let header = values["security.apiKeyHeader"] {
            if HTTPField.Name(header) != nil {
                security.apiKeyNames.header = header
            } else {
                problems.append(
                    Problem(setting: "security.apiKeyHeader", message: "must be an HTTP header name (\(source))"))
            }
        }
        if let parameter = values["security.apiKeyQueryParameter"] {
            if !parameter.isEmpty,
                parameter.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.~".contains($0)) })
            {
                security.apiKeyNames.queryParameter = parameter
            } else {
                problems.append(
                    Problem(
                        setting: "security.apiKeyQueryParameter",
                        message:
                            "must be a non-empty query parameter name of letters, digits, '-', '_', '.', '~' (\(source))"
                    ))
            }
        }
        /// A comma-separated list whose entries `invalid` checks, applied when every entry is valid.
        func list(
            _ key: String, _ invalid: ([String]) -> [String], expected: String,
            _ apply: (inout GatewaySettings, [String]) -> Void
        ) {
            guard let text = values[key] else { return }
            let entries = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
            let wrong = invalid(entries)
            guard wrong.isEmpty else {
                problems.append(
                    Problem(
                        setting: key,
                        message: "\(wrong.joined(separator: ", ")): each entry must be \(expected) (\(source))"))
                return
            }
            apply(&self, entries)
        }
        list(
            "webhooks.callbackAllowList", WebhookCallbackPolicy.invalidEntries,
            expected: "a host name, '*.' and a domain, an IP address or a CIDR block"
        ) { $0.webhookCallbacks.allowList = $1 }
        list(
            "webhooks.callbackDenyList", WebhookCallbackPolicy.invalidDenyEntries,
            expected: "an IP address, a CIDR block or 'private'"
        ) { $0.webhookCallbacks.denyList = $1 }
        if let text = values["store.kind"] {
            if let kind = StoreSettings.Kind(rawValue: text.lowercased()) {
                store.kind = kind
            } else {
                problems.append(Problem(setting: "store.kind", message: "must be none, sqlite or postgres (\(source))"))
            }
        }
        if let directory = values["store.dataDirectory"] {
            if directory.isEmpty {
                problems.append(Problem(setting: "store.dataDirectory", message: "must not be empty (\(source))"))
            } else {
                store.dataDirectory = directory
            }
        }
        if let url = values["store.postgresUrl"] { store.postgresURL = url }
        int("store.pollIntervalMs", 50) { $0.store.pollIntervalMs = $1 }
        int("store.operationTimeoutMs", 100) { $0.store.operationTimeoutMs = $1 }
        int("store.eventRetentionSeconds", 60) { $0.store.eventRetentionSeconds = $1 }
        if let text = values["store.sharedRateLimits"] {
            switch text.lowercased() {
            case "true", "yes", "1": store.sharedRateLimits = true
            case "false", "no", "0": store.sharedRateLimits = false
            default:
                problems.append(
                    Problem(setting: "store.sharedRateLimits", message: "must be true or false (\(source))"))
            }
        }
        if let text = values["role"] {
            if let role = ServeRole(rawValue: text.lowercased()) {
                self.role = role
            } else {
                problems.append(Problem(setting: "role", message: "must be gateway, management or all (\(source))"))
            }
        }
        if let host = values["management.host"] { management.host = host }
        int("management.port", 0) { $0.management.port = $1 }
        if let token = values["management.adminToken"] {
            if token.count < 16 {
                problems.append(
                    Problem(setting: "management.adminToken", message: "must be at least 16 characters (\(source))"))
            } else {
                management.adminToken = token
            }
        }
        if let file = values["management.adminTokenFile"] { management.adminTokenFile = file }
        int("management.maxRequestBodyBytes", 1024) { $0.management.maxRequestBodyBytes = $1 }
        observability.apply(values: values, source: source, problems: &problems)
        if let first = problems.first {
            throw problems.count == 1
                ? first : Problem(setting: first.setting, message: problems.map(\.description).joined(separator: "; "))
        }
    }
}

extension String {
    func camelToSnake() -> String {
        var out = ""
        for character in self {
            if character.isUppercase { out += "_" + character.lowercased() } else { out.append(character) }
        }
        return out
    }
}

/// Where the gateway's APIs and access data are managed (`store.*`).
public struct StoreSettings: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// No store: the gateway serves the `apis` files alone, watching them for changes.
        case none
        /// A SQLite file in `dataDirectory`: one node.
        case sqlite
        /// PostgreSQL at `postgresURL`: several nodes, with shared rate-limit counters.
        case postgres
    }

    /// Default: none.
    public var kind = Kind.none
    /// Where the SQLite store keeps its file (`store.dataDirectory`). Default: `data`.
    public var dataDirectory = "data"
    /// `postgres://user:password@host:5432/database` (`store.postgresUrl`). Required with `kind` postgres.
    public var postgresURL: String?
    /// How often a gateway reads the store's events (`store.pollIntervalMs`). Default: 500 ms.
    public var pollIntervalMs = 500
    /// How long one store operation may take before the store counts as unavailable (`store.operationTimeoutMs`).
    /// Default: 5000 ms.
    public var operationTimeoutMs = 5000
    /// How long the store keeps its change events (`store.eventRetentionSeconds`); the management API's process
    /// deletes older ones. A gateway away for longer loads everything again when it returns. Default: 86400 (a
    /// day).
    public var eventRetentionSeconds = 86_400
    /// Whether rate-limit counters live in PostgreSQL, shared by every node (`store.sharedRateLimits`); only with
    /// `kind` postgres. Default: true.
    public var sharedRateLimits = true

    public init() {}

    /// The problem of a combination of settings that cannot run, if any.
    public func problem() -> GatewaySettings.Problem? {
        if kind == .postgres, (postgresURL ?? "").isEmpty {
            return .init(setting: "store.postgresUrl", message: "is required with store.kind postgres")
        }
        return nil
    }
}

/// Settings of the JWT and OAuth2 plans, gateway-wide.
public struct SecuritySettings: Sendable {
    /// Tolerance on a JWT's `exp`, `nbf` and `iat`. Default: 60 s (what Gravitee's JWT library allows).
    public var jwtClockSkewSeconds = 60
    /// Longer bearer tokens are refused before any parsing. Default: 8192 bytes.
    public var maxTokenBytes = 8192
    /// Verified tokens remembered per plan (and introspection answers per OAuth2 resource). Default: 10000.
    public var tokenCacheEntries = 10_000
    /// A JWK set is fetched again after this long. Default: 300 s (Gravitee's).
    public var jwksRefreshSeconds = 300
    /// A token naming an unknown key id makes the gateway fetch the JWK set again, at most this often, so that a
    /// flood of made-up key ids cannot hammer the key server. Default: 10 s.
    public var jwksMinimumRefreshSeconds = 10
    /// The header and the query parameter that carry an API key. Default: Gravitee's, `X-Gravitee-Api-Key` and
    /// `api-key`.
    public var apiKeyNames = SecurityChain.APIKeyNames.gravitee

    public init() {}
}
