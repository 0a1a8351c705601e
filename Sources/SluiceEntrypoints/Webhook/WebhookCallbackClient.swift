import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import SluiceCore
import SluiceEndpoints
import Synchronization

/// POSTs messages to one subscription's callback: its own connection pool (the entrypoint's timeouts and
/// `maxConcurrentConnections`), its TLS settings, headers, credentials and Standard Webhooks signature.
///
/// When the gateway checks callback addresses (a deny-list, or an allow-list with blocks), the callback's name is
/// resolved here, its addresses checked against the policy, and the pool connects to the checked address only
/// (AsyncHTTPClient's DNS override: the request's `Host` and the TLS server name and certificate check stay the
/// name). The name is resolved again every ``WebhookHostResolver/recheckAfter``; when the checked address is no
/// longer among the permitted ones, a new pool replaces the old.
final class WebhookCallbackClient: Sendable {
    let subscription: WebhookSubscriptionConfiguration
    let readTimeout: TimeAmount
    let policy: WebhookCallbackPolicy
    let resolver: WebhookHostResolver
    private let clientConfiguration: HTTPClient.Configuration
    /// Callbacks are reached through a forward proxy, which connects to them by name.
    let usesProxy: Bool
    /// The pool in use, the address it connects to (nil: by name) and until when that address stands checked.
    private let pool: Mutex<(client: HTTPClient, address: String?, checkedUntil: ContinuousClock.Instant?)>
    /// Pools replaced after a new resolution, shut down once their requests had time to end.
    private let retired = Mutex<[HTTPClient]>([])
    /// The OAuth2 access token and when it stops being used (a little before it expires).
    private let oauth2Token = Mutex<(value: String, until: ContinuousClock.Instant)?>(nil)
    /// The callbacks' client spans, when the gateway traces.
    let tracer: (any CallbackTracer)?

    /// Fails when the subscription's `ssl` settings do not load (a trust store that is not PEM, say).
    init(
        subscription: WebhookSubscriptionConfiguration, configuration: WebhookEntrypoint.Configuration,
        policy: WebhookCallbackPolicy = .init(), resolver: WebhookHostResolver = .system,
        tracer: (any CallbackTracer)? = nil
    ) throws {
        self.subscription = subscription
        self.tracer = tracer
        self.readTimeout = .milliseconds(configuration.readTimeoutMs)
        self.policy = policy
        self.resolver = resolver
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.timeout = .init(
            connect: .milliseconds(configuration.connectTimeoutMs), read: .milliseconds(configuration.readTimeoutMs))
        clientConfiguration.connectionPool = .init(
            idleTimeout: .milliseconds(max(configuration.idleTimeoutMs, 1)),
            concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maxConcurrentConnections)
        // Redirects are not followed: a callback answers for itself (3xx is a failure, as any non-2xx).
        clientConfiguration.redirectConfiguration = .disallow
        clientConfiguration.decompression = .disabled
        if !subscription.ssl.isEmpty {
            var diagnostics = DiagnosticCollector()
            let reader = ConfigurationReader(subscription.ssl, at: JSONPath("ssl"))
            guard var tls = MQTT5EndpointConfiguration.parseTLS(reader, extraFields: ["trustAll"], &diagnostics),
                !diagnostics.hasErrors
            else {
                throw WebhookSetupError(
                    "the subscription's ssl settings do not load: "
                        + diagnostics.diagnostics.map(\.description).joined(separator: "; "))
            }
            if reader.bool("trustAll", &diagnostics) == true { tls.certificateVerification = .none }
            clientConfiguration.tlsConfiguration = tls
        }
        if let proxy = configuration.proxy {
            switch proxy.kind {
            case .http:
                clientConfiguration.proxy = .server(
                    host: proxy.host, port: proxy.port,
                    authorization: proxy.username.map { .basic(username: $0, password: proxy.password ?? "") })
            case .socks5:
                clientConfiguration.proxy = .socksServer(host: proxy.host, port: proxy.port)
            }
        }
        self.usesProxy = configuration.proxy != nil
        self.clientConfiguration = clientConfiguration
        self.pool = Mutex(
            (HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration), nil, nil))
    }

    func shutdown() async {
        let current = pool.withLock { $0.client }
        let old = retired.withLock { retired in
            defer { retired.removeAll() }
            return retired
        }
        for client in old + [current] { try? await client.shutdown() }
    }

    /// The callback's host name when its addresses must be checked before connecting; nil when the pool may
    /// connect by name (no address policy, or the URL names an address, checked when the file was read).
    var checkedHost: String? {
        guard policy.checksAddresses, let host = subscription.callbackURL.host else { return nil }
        let bare = WebhookCallbackPolicy.bare(host)
        return WebhookCallbackPolicy.isAddress(bare) ? nil : bare
    }

    /// The pool to send with: one that connects to a checked address of the callback's name when addresses are
    /// checked. Throws a ``WebhookFailure`` when the name does not resolve or none of its addresses is permitted.
    func currentClient() async throws(WebhookFailure) -> HTTPClient {
        guard let host = checkedHost else { return pool.withLock { $0.client } }
        let now = ContinuousClock.now
        if let client = pool.withLock({ pool in pool.checkedUntil.map { $0 > now } == true ? pool.client : nil }) {
            return client
        }
        let permitted = try await permittedAddresses(of: host, policy: policy, what: "callback host")
        let chosen = permitted[0]
        let until = now + resolver.recheckAfter
        if usesProxy {
            // The proxy resolves the name and connects: the gateway's check is made on the name's addresses as the
            // gateway sees them, and the pool is not pointed at one (the proxy's own egress rules do the rest).
            return pool.withLock { pool in
                pool.checkedUntil = until
                return pool.client
            }
        }
        let kept = pool.withLock { pool -> HTTPClient? in
            guard let address = pool.address, permitted.contains(address) else { return nil }
            pool.checkedUntil = until
            return pool.client
        }
        if let kept { return kept }
        var configuration = clientConfiguration
        configuration.dnsOverride = [host: chosen]
        let fresh = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let replaced = pool.withLock { pool in
            defer { pool = (fresh, chosen, until) }
            return pool.client
        }
        retire(replaced)
        return fresh
    }

    /// The addresses of `host` (a name, or an address as written) that `policy` lets a connection use; at least one.
    /// Throws a ``WebhookFailure`` naming the addresses when none is permitted, or when the name does not resolve.
    func permittedAddresses(
        of host: String, policy: WebhookCallbackPolicy, what: String
    ) async throws(WebhookFailure) -> [String] {
        let resolved: [String]
        if WebhookCallbackPolicy.isAddress(host) {
            resolved = [host]
        } else {
            do {
                resolved = try await resolver.resolve(host)
            } catch {
                throw .exception("cannot resolve the \(what): \(error)")
            }
        }
        let permitted = policy.permittedAddresses(host: host, resolved: resolved)
        guard !permitted.isEmpty else {
            throw .exception(
                "the \(what) '\(host)' resolves to \(resolved.joined(separator: ", ")), which the gateway's "
                    + "webhook callback policy does not allow")
        }
        return permitted
    }

    /// Shuts a replaced pool down once the requests it carries have had their read timeout to end.
    private func retire(_ client: HTTPClient) {
        retired.withLock { $0.append(client) }
        let grace = readTimeout + .seconds(1)
        Task {
            try? await Task.sleep(for: .nanoseconds(grace.nanoseconds))
            let due = retired.withLock { retired -> Bool in
                guard let index = retired.firstIndex(where: { $0 === client }) else { return false }
                retired.remove(at: index)
                return true
            }
            if due { try? await client.shutdown() }
        }
    }

    /// One attempt: nil when the callback answered 2xx. The attempt is a client span when the gateway traces.
    func post(_ message: Message, webhookID: String) async -> WebhookFailure? {
        guard let tracer else {
            return await post(message, webhookID: webhookID, traceContext: message.headers.traceContext)
        }
        let (span, parent, state) = tracer.calling(subscription.callbackURL.absoluteString, for: message)
        let failure = await post(
            message, webhookID: webhookID, traceContext: parent.isEmpty ? message.headers.traceContext : (parent, state)
        )
        span.end(error: failure.map { "\($0)" })
        return failure
    }

    /// One attempt whose request carries `traceContext` (W3C `traceparent` and `tracestate`).
    private func post(
        _ message: Message, webhookID: String, traceContext: (parent: String, state: String?)?
    ) async -> WebhookFailure? {
        var request = HTTPClientRequest(url: subscription.callbackURL.absoluteString)
        request.method = .POST
        for (name, value) in message.headers where !Self.reserved.contains(name.lowercased()) {
            guard WebhookSubscriptionConfiguration.isHeaderName(name), !value.contains(where: \.isNewline),
                !MessageHeaders.isTraceContextName(name.lowercased())
            else {
                continue
            }
            request.headers.add(name: name, value: value)
        }
        if let traceContext {
            request.headers.add(name: TraceParent.headerName, value: traceContext.parent)
            if let state = traceContext.state, TraceParent.isCarriableState(state) {
                request.headers.add(name: TraceParent.stateHeaderName, value: state)
            }
        }
        for header in subscription.headers { request.headers.replaceOrAdd(name: header.name, value: header.value) }
        let timestamp = Int64(Date().timeIntervalSince1970)
        request.headers.replaceOrAdd(name: "webhook-id", value: webhookID)
        request.headers.replaceOrAdd(name: "webhook-timestamp", value: String(timestamp))
        if let secret = subscription.secret {
            let body = message.content.readableBytesView
            request.headers.replaceOrAdd(
                name: "webhook-signature", value: secret.signature(id: webhookID, timestamp: timestamp, body: body))
        }
        do {
            if let authorization = try await authorization() {
                request.headers.replaceOrAdd(name: "Authorization", value: authorization)
            }
        } catch {
            return .exception("OAuth2 token request failed: \(error)")
        }
        request.body = .bytes(message.content)
        let client: HTTPClient
        do {
            client = try await currentClient()
        } catch {
            return error
        }
        do {
            let response = try await client.execute(request, timeout: readTimeout)
            // The body is read (bounded) so that the connection can be reused; its content is not used.
            _ = try? await response.body.collect(upTo: 64 << 10)
            let code = Int(response.status.code)
            return (200..<300).contains(code) ? nil : .status(code)
        } catch {
            return .exception(Self.describe(error))
        }
    }

    /// Headers a message never sets on the callback request: hop-by-hop ones, the body's framing, the host, and
    /// the Standard Webhooks headers the gateway writes itself.
    static let reserved: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
        "content-length", "host", "authorization", "webhook-id", "webhook-timestamp", "webhook-signature",
    ]

    private func authorization() async throws -> String? {
        switch subscription.authentication {
        case .none:
            return nil
        case .basic(let username, let password):
            return "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        case .token(let value):
            return "Bearer " + value
        case .oauth2(let endpoint, let clientID, let clientSecret, let scopes):
            let now = ContinuousClock.now
            if let token = oauth2Token.withLock({ $0 }), token.until > now { return "Bearer " + token.value }
            let (value, lifetime) = try await fetchToken(
                endpoint: endpoint, clientID: clientID, clientSecret: clientSecret, scopes: scopes)
            // Renewed 30 s (or a tenth of its lifetime, when shorter) before it expires.
            let margin = min(30, max(lifetime / 10, 0))
            oauth2Token.withLock { $0 = (value, now + .seconds(max(lifetime - margin, 1))) }
            return "Bearer " + value
        }
    }

    /// The client-credentials grant (RFC 6749 §4.4), client authenticated with HTTP Basic.
    private func fetchToken(
        endpoint: URL, clientID: String, clientSecret: String, scopes: [String]
    ) async throws -> (String, Int64) {
        var request = HTTPClientRequest(url: endpoint.absoluteString)
        request.method = .POST
        let credentials = Data("\(Self.formEncode(clientID)):\(Self.formEncode(clientSecret))".utf8)
        request.headers.add(name: "Authorization", value: "Basic " + credentials.base64EncodedString())
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        var form = "grant_type=client_credentials"
        if !scopes.isEmpty { form += "&scope=" + Self.formEncode(scopes.joined(separator: " ")) }
        request.body = .bytes(ByteBuffer(string: form))
        // The token endpoint is the subscription's identity provider, not the callback: the allow-list is not
        // asked, but the deny-list is, with the same resolve-check-connect as for the callback.
        let denied = WebhookCallbackPolicy(denyList: policy.denyList)
        guard denied.checksAddresses, let host = endpoint.host.map(WebhookCallbackPolicy.bare) else {
            return try await Self.token(from: request, client: pool.withLock { $0.client }, timeout: readTimeout)
        }
        let address = try await permittedAddresses(of: host, policy: denied, what: "token endpoint")[0]
        var configuration = clientConfiguration
        configuration.dnsOverride = [host: address]
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let token = try await Self.token(from: request, client: client, timeout: readTimeout)
            try? await client.shutdown()
            return token
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Sends a token request and reads the access token and its lifetime (in seconds) from the answer.
    private static func token(
        from request: HTTPClientRequest, client: HTTPClient, timeout: TimeAmount
    ) async throws -> (String, Int64) {
        let response = try await client.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 64 << 10)
        guard response.status == .ok else {
            throw WebhookSetupError("the token endpoint answered \(response.status.code)")
        }
        let json = try JSONValue.parse(json: Data(body.readableBytesView))
        guard let token = json["access_token"]?.stringValue, !token.isEmpty else {
            throw WebhookSetupError("the token endpoint's answer has no access_token")
        }
        return (token, tokenLifetime(json))
    }

    /// How long a token is kept, in seconds: the answer's `expires_in` (at most a year, whatever number the token
    /// endpoint sends), else 300.
    static func tokenLifetime(_ answer: JSONValue) -> Int64 {
        guard case .number(let seconds)? = answer["expires_in"], seconds >= 1 else { return 300 }
        return Int64(min(seconds, 365 * 86_400))
    }

    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout: return "the callback did not answer in time"
            case .connectTimeout: return "connecting to the callback timed out"
            case .remoteConnectionClosed: return "the callback closed the connection"
            default: return "callback request failed: \(error)"
            }
        }
        if let error = error as? IOError { return "cannot connect to the callback: \(error)" }
        return "callback request failed: \(error)"
    }
}

/// A subscription whose delivery cannot start or go on as configured.
struct WebhookSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
