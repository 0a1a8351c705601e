import Foundation
public import NIOSSL
public import SluiceCore

/// An `http-proxy` endpoint as Gravitee's connector configures it: `configuration.target`, and the shared
/// configuration's `http`, `ssl`, `headers` and `proxy` blocks.
public struct HTTPProxyEndpointConfiguration: Sendable {
    /// Where requests go: scheme, host, port, a base path and query parameters added to every request.
    public struct Target: Sendable, Hashable {
        public var secure: Bool
        public var host: String
        public var port: Int
        /// Without a trailing `/` (empty for the root).
        public var basePath: String
        /// Raw query text added after the request's own parameters; empty for none.
        public var query: String

        /// `scheme://host:port`, for the HTTP client.
        public var origin: String {
            let bracketed = host.contains(":") ? "[\(host)]" : host
            return "\(secure ? "https" : "http")://\(bracketed):\(port)"
        }
    }

    /// The backend's HTTP protocol.
    public enum Version: String, Sendable {
        case http1 = "HTTP_1_1"
        case http2 = "HTTP_2"
    }

    /// `http`: Gravitee's `HttpClientOptions`, with its defaults.
    public struct HTTPOptions: Sendable {
        /// Default: 3,000 ms.
        public var connectTimeoutMs: Int64 = 3_000
        /// Longest wait for data from the backend (the head, or the next part of the body). Default: 10,000 ms.
        public var readTimeoutMs: Int64 = 10_000
        /// How long an unused pooled connection is kept. Default: 60,000 ms.
        public var idleTimeoutMs: Int64 = 60_000
        /// Whether connections are reused. Default: true.
        public var keepAlive = true
        /// Accepted and ignored: requests on one connection are never pipelined. Default: false.
        public var pipelining = false
        /// Connections kept open per backend. Default: 100.
        public var maxConcurrentConnections = 100
        /// Asks the backend for gzip/deflate and decompresses its answer. Default: true.
        public var useCompression = true
        /// Whether the client's own `Accept-Encoding` reaches the backend. Default: false.
        public var propagateClientAcceptEncoding = false
        /// Default: false.
        public var followRedirects = false
        /// Default: HTTP/1.1.
        public var version = Version.http1
        /// With `version: HTTP_2` on an `http://` target: each connection starts in HTTP/1.1 and upgrades
        /// (`Upgrade: h2c`); false: HTTP/2 from the first byte (prior knowledge). Default: true.
        public var clearTextUpgrade = true
    }

    /// A forward proxy between the gateway and the backend.
    public struct ForwardProxy: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable {
            case http = "HTTP"
            case socks5 = "SOCKS5"
        }

        public var kind: Kind
        public var host: String
        public var port: Int
        public var username: String?
        public var password: String?
    }

    public var target: Target
    public var http = HTTPOptions()
    /// Nil for the platform's default verification (for `https` targets).
    public var tls: TLSConfiguration?
    /// `headers`: set on every request to the backend, replacing the client's.
    public var headers: [(name: String, value: String)] = []
    public var proxy: ForwardProxy?

    /// Whether the backend is spoken to in HTTP/2 over clear text (h2c): `version: HTTP_2` on an `http://` target,
    /// without a forward proxy or redirects to follow (the HTTP client's, in HTTP/1.1 there).
    public var speaksH2C: Bool {
        !target.secure && http.version == .http2 && proxy == nil && !http.followRedirects
    }

    static let sharedFields: Set<String> = ["http", "ssl", "headers", "proxy"]
    static let httpFields: Set<String> = [
        "connectTimeout", "readTimeout", "idleTimeout", "keepAlive", "keepAliveTimeout", "pipelining",
        "maxConcurrentConnections", "useCompression", "propagateClientAcceptEncoding", "followRedirects", "version",
        "clearTextUpgrade",
    ]

    /// Reads and checks `endpoint`'s configuration and the shared configuration it runs with; nil when it cannot run.
    public static func parse(
        endpoint: APIDefinition.Endpoint, group: APIDefinition.EndpointGroup, diagnostics: inout DiagnosticCollector
    ) -> HTTPProxyEndpointConfiguration? {
        let configurationPath = endpoint.path.key("configuration")
        let reader = ConfigurationReader(endpoint.configuration, at: configurationPath)
        reader.warnUnknown(["target"], &diagnostics)
        guard let text = reader.string("target", &diagnostics, required: true) else { return nil }
        guard KafkaEndpointConfiguration.rejectExpression(text, at: configurationPath.key("target"), &diagnostics),
            let target = parseTarget(text, at: configurationPath.key("target"), &diagnostics)
        else { return nil }
        var configuration = HTTPProxyEndpointConfiguration(target: target)
        var valid = true

        let shared = ConfigurationReader(
            endpoint.effectiveSharedConfiguration(group: group),
            at: endpoint.effectiveSharedConfigurationPath(group: group))
        shared.warnUnknown(sharedFields, &diagnostics)
        parseHTTP(shared.object("http", &diagnostics), target: target, into: &configuration.http, &diagnostics)
        if shared.has("ssl") {
            let ssl = shared.object("ssl", &diagnostics)
            if var tls = MQTT5EndpointConfiguration.parseTLS(ssl, extraFields: ["trustAll"], &diagnostics) {
                if ssl.bool("trustAll", &diagnostics) == true { tls.certificateVerification = .none }
                configuration.tls = tls
            } else {
                valid = false
            }
        }
        for (name, value) in shared.namedValues("headers", &diagnostics) {
            guard !name.isEmpty, !name.utf8.contains(where: { $0 <= 0x20 || $0 == UInt8(ascii: ":") }) else {
                diagnostics.error(shared.path.key("headers"), "'\(name)' is not a valid header name")
                valid = false
                continue
            }
            if value.contains("{#") {
                diagnostics.error(
                    shared.path.key("headers"), "header '\(name)': Gravitee expressions are not supported here yet",
                    code: "UNSUPPORTED_EXPRESSION")
                valid = false
                continue
            }
            configuration.headers.append((name, value))
        }
        if shared.has("proxy") {
            switch parseProxy(shared.object("proxy", &diagnostics), &diagnostics) {
            case .some(let proxy): configuration.proxy = proxy
            case .none: valid = false
            }
        }
        if configuration.http.version == .http2, !target.secure, !configuration.speaksH2C {
            // Forward proxies and redirects are the HTTP client's, which speaks HTTP/2 over TLS only.
            diagnostics.warning(
                shared.path.key("http").key("version"),
                "HTTP/2 without TLS (h2c) is not combined with "
                    + (configuration.proxy != nil ? "a forward proxy" : "followRedirects")
                    + ": this endpoint speaks HTTP/1.1 to its backend",
                code: "UNSUPPORTED")
        }
        return valid ? configuration : nil
    }

    /// `http://host[:port][/path][?query]` or `https://…`.
    static func parseTarget(_ text: String, at path: JSONPath, _ diagnostics: inout DiagnosticCollector) -> Target? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else {
            diagnostics.error(path, "'\(text)' is not an absolute http:// or https:// URL")
            return nil
        }
        guard scheme == "http" || scheme == "https" else {
            diagnostics.error(
                path, "scheme '\(scheme)' is not supported: use http or https", code: "UNSUPPORTED_TYPE")
            return nil
        }
        if components.user != nil || components.password != nil {
            diagnostics.error(path, "credentials in the target URL are not supported: use `headers`")
            return nil
        }
        let secure = scheme == "https"
        var basePath = components.percentEncodedPath
        while basePath.hasSuffix("/") { basePath.removeLast() }
        return Target(
            secure: secure, host: host, port: components.port ?? (secure ? 443 : 80), basePath: basePath,
            query: components.percentEncodedQuery ?? "")
    }

    static func parseHTTP(
        _ reader: ConfigurationReader, target: Target, into options: inout HTTPOptions,
        _ diagnostics: inout DiagnosticCollector
    ) {
        reader.warnUnknown(httpFields, &diagnostics)
        if let value = reader.integer("connectTimeout", &diagnostics, minimum: 1) { options.connectTimeoutMs = value }
        if let value = reader.integer("readTimeout", &diagnostics, minimum: 1) { options.readTimeoutMs = value }
        if let value = reader.integer("idleTimeout", &diagnostics, minimum: 0) { options.idleTimeoutMs = value }
        _ = reader.integer("keepAliveTimeout", &diagnostics, minimum: 0)
        if let value = reader.bool("keepAlive", &diagnostics) { options.keepAlive = value }
        if let value = reader.bool("pipelining", &diagnostics) {
            options.pipelining = value
            if value {
                diagnostics.warning(
                    reader.path.key("pipelining"),
                    "requests are not pipelined to the backend; each waits for a connection")
            }
        }
        if let value = reader.integer("maxConcurrentConnections", &diagnostics, minimum: 1, maximum: 10_000) {
            options.maxConcurrentConnections = Int(value)
        }
        if let value = reader.bool("useCompression", &diagnostics) { options.useCompression = value }
        if let value = reader.bool("propagateClientAcceptEncoding", &diagnostics) {
            options.propagateClientAcceptEncoding = value
        }
        if let value = reader.bool("followRedirects", &diagnostics) { options.followRedirects = value }
        if let value = reader.bool("clearTextUpgrade", &diagnostics) { options.clearTextUpgrade = value }
        if let text = reader.string("version", &diagnostics) {
            if let version = Version(rawValue: text.uppercased()) {
                options.version = version
            } else {
                diagnostics.error(reader.path.key("version"), "must be HTTP_1_1 or HTTP_2")
            }
        }
    }

    /// Reads a Gravitee `proxy` block: `.some(nil)` when it is not enabled, `.none` when it is invalid.
    public static func parseProxy(
        _ reader: ConfigurationReader, _ diagnostics: inout DiagnosticCollector
    ) -> ForwardProxy?? {
        reader.warnUnknown(["enabled", "useSystemProxy", "host", "port", "type", "username", "password"], &diagnostics)
        guard reader.bool("enabled", &diagnostics) == true else { return .some(nil) }
        if reader.bool("useSystemProxy", &diagnostics) == true {
            diagnostics.error(
                reader.path.key("useSystemProxy"), "the system proxy is not supported: give host, port and type",
                code: "UNSUPPORTED")
            return .none
        }
        let kindText = (reader.string("type", &diagnostics) ?? "HTTP").uppercased()
        guard let kind = ForwardProxy.Kind(rawValue: kindText) else {
            diagnostics.error(
                reader.path.key("type"), "proxy type '\(kindText)' is not supported: use HTTP or SOCKS5",
                code: "UNSUPPORTED_TYPE")
            return .none
        }
        guard let host = reader.string("host", &diagnostics, required: true),
            let port = reader.integer("port", &diagnostics, minimum: 1, maximum: 65_535)
        else {
            if !reader.has("port") { diagnostics.error(reader.path.key("port"), "is required", code: "MISSING_FIELD") }
            return .none
        }
        let username = reader.string("username", &diagnostics).flatMap { $0.isEmpty ? nil : $0 }
        if kind == .socks5, username != nil {
            diagnostics.error(
                reader.path.key("username"), "SOCKS5 proxies with credentials are not supported", code: "UNSUPPORTED")
            return .none
        }
        return .some(
            ForwardProxy(
                kind: kind, host: host, port: Int(port), username: username,
                password: reader.string("password", &diagnostics)))
    }
}
