public import AsyncHTTPClient
import Logging
public import NIOCore
public import NIOHTTP1
import NIOPosix
import NIOSSL
import SluiceCore

/// What the gateway sends to a backend: the request as the entrypoint prepared it (hop-by-hop headers removed,
/// `X-Forwarded-*` added), with the path and query relative to the API's context path.
public struct HTTPProxyRequest: Sendable {
    public enum Body: Sendable {
        case none
        /// The whole body, read beforehand (failover resends it).
        case buffered(ByteBuffer)
        /// Forwarded as it arrives.
        case stream(HTTPClientRequest.Body)
    }

    public var method: HTTPMethod
    /// The request's path after the context path, percent-encoded as the client sent it (`""` or `/…`).
    public var relativePath: Substring
    /// The request's raw query, without `?`; empty for none.
    public var query: Substring
    public var headers: HTTPHeaders
    public var body: Body

    public init(method: HTTPMethod, relativePath: Substring, query: Substring, headers: HTTPHeaders, body: Body) {
        self.method = method
        self.relativePath = relativePath
        self.query = query
        self.headers = headers
        self.body = body
    }
}

/// One backend of an `http-proxy` endpoint group: its target and a pooled HTTP client configured as the endpoint
/// says (timeouts, keep-alive pool, TLS, HTTP version, compression, redirects, forward proxy).
public final class HTTPProxyEndpoint: Sendable {
    public let name: String
    public let configuration: HTTPProxyEndpointConfiguration
    let client: HTTPClient
    /// The configured headers, lower-cased names, for replacing the client's.
    private let configuredHeaderNames: Set<String>
    /// Connections for requests forwarded right from the gateway's event loops, when the endpoint needs nothing
    /// that only its HTTP client does: a plain `http://` target (HTTP/1.1, or h2c), without a forward proxy,
    /// compression or redirects to follow. Nil otherwise.
    public let connections: (any HTTPProxyBackendConnections)?
    /// The endpoint's h2c connections (`version: HTTP_2` on an `http://` target), which both ways to the backend
    /// use (``send(_:)`` instead of the HTTP client). Nil otherwise.
    public let h2c: H2CConnectionPool?
    /// The `Host` header the backend gets.
    public let hostHeader: String

    public init(name: String, configuration: HTTPProxyEndpointConfiguration) {
        self.name = name
        self.configuration = configuration
        let http = configuration.http
        var clientConfiguration = HTTPClient.Configuration(
            tlsConfiguration: configuration.tls,
            redirectConfiguration: http.followRedirects ? .follow(max: 10, allowCycles: false) : .disallow,
            timeout: .init(
                connect: .milliseconds(http.connectTimeoutMs), read: .milliseconds(http.readTimeoutMs)),
            connectionPool: .init(
                idleTimeout: .milliseconds(max(1, http.idleTimeoutMs)),
                concurrentHTTP1ConnectionsPerHostSoftLimit: http.maxConcurrentConnections),
            proxy: configuration.proxy.map { proxy in
                switch proxy.kind {
                case .http:
                    .server(
                        host: proxy.host, port: proxy.port,
                        authorization: proxy.username.map {
                            HTTPClient.Authorization.basic(username: $0, password: proxy.password ?? "")
                        })
                case .socks5:
                    .socksServer(host: proxy.host, port: proxy.port)
                }
            },
            ignoreUncleanSSLShutdown: false,
            decompression: http.useCompression ? .enabled(limit: .ratio(100)) : .disabled
        )
        // The HTTP client negotiates HTTP/2 with ALPN, so only over TLS; h2c is this endpoint's own (`h2c`).
        clientConfiguration.httpVersion = http.version == .http2 ? .automatic : .http1Only
        self.client = HTTPClient(
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: clientConfiguration)
        self.configuredHeaderNames = Set(configuration.headers.map { $0.name.lowercased() })
        let target = configuration.target
        self.hostHeader =
            (target.secure && target.port == 443) || (!target.secure && target.port == 80)
            ? target.host : "\(target.host):\(target.port)"
        if configuration.speaksH2C {
            let pool = H2CConnectionPool(
                host: target.host, port: target.port, authority: hostHeader,
                mode: http.clearTextUpgrade ? .upgrade : .priorKnowledge,
                connectTimeout: .milliseconds(http.connectTimeoutMs),
                idleTimeout: .milliseconds(max(1, http.idleTimeoutMs)),
                maxConnectionsPerLoop: http.maxConcurrentConnections, keepAlive: http.keepAlive)
            self.h2c = pool
            // Decompression is the async path's.
            self.connections = http.useCompression ? nil : pool
        } else if !target.secure, configuration.tls == nil, configuration.proxy == nil, http.version == .http1,
            !http.useCompression, !http.followRedirects
        {
            self.h2c = nil
            self.connections = HTTPProxyConnectionPool(
                host: target.host, port: target.port, connectTimeout: .milliseconds(http.connectTimeoutMs),
                idleTimeout: .milliseconds(max(1, http.idleTimeoutMs)),
                maxIdlePerLoop: http.keepAlive ? http.maxConcurrentConnections : 0)
        } else {
            self.h2c = nil
            self.connections = nil
        }
    }

    /// The request target (path and query) a request goes to: the target's base path, the request's relative
    /// path, then the request's query parameters followed by the target's.
    public func requestTarget(relativePath: Substring, query: Substring) -> String {
        let target = configuration.target
        var uri = target.basePath
        if relativePath.isEmpty {
            if target.basePath.isEmpty { uri += "/" }
        } else {
            uri += relativePath
        }
        if !query.isEmpty || !target.query.isEmpty {
            uri += "?"
            uri += query
            if !query.isEmpty, !target.query.isEmpty { uri += "&" }
            uri += target.query
        }
        return uri
    }

    /// The headers the backend gets, from those the entrypoint prepared: `Host` left to the connection, the
    /// client's `Accept-Encoding` unless propagated, the endpoint's configured headers in place of the client's,
    /// `Connection: close` without keep-alive.
    public func outgoingHeaders(_ prepared: HTTPHeaders) -> HTTPHeaders {
        var headers = prepared
        prepareOutgoing(&headers)
        return headers
    }

    /// ``outgoingHeaders(_:)`` in place: headers held once (as the entrypoint's freshly prepared ones are) are
    /// changed without a copy.
    public func prepareOutgoing(_ headers: inout HTTPHeaders) {
        let http = configuration.http
        let acceptsEncoding = http.propagateClientAcceptEncoding && headers.contains(name: "accept-encoding")
        // Each removal only where the header is there: a removal changes the headers' storage, copying it when
        // it is shared.
        if headers.contains(name: "host") { headers.remove(name: "host") }
        if !http.propagateClientAcceptEncoding, headers.contains(name: "accept-encoding") {
            headers.remove(name: "accept-encoding")
        }
        if !http.keepAlive, h2c == nil, headers.contains(name: "connection") { headers.remove(name: "connection") }
        for name in configuredHeaderNames where headers.contains(name: name) { headers.remove(name: name) }
        if http.useCompression, !acceptsEncoding, !configuredHeaderNames.contains("accept-encoding") {
            headers.add(name: "accept-encoding", value: "gzip, deflate")
        }
        for (name, value) in configuration.headers { headers.add(name: name, value: value) }
        // (h2c has no `Connection` header: without keep-alive each request has a connection of its own.)
        if !http.keepAlive, h2c == nil { headers.add(name: "connection", value: "close") }
    }

    /// The URL a request goes to: the target's origin and base path, the request's relative path, then the request's
    /// query parameters followed by the target's.
    func url(for request: HTTPProxyRequest) -> String {
        configuration.target.origin + requestTarget(relativePath: request.relativePath, query: request.query)
    }

    /// Sends `request`; returns once the backend's response head has arrived (its body streams after). Errors are
    /// ``GatewayError``s with Gravitee's statuses and keys.
    public func send(_ request: HTTPProxyRequest) async throws -> HTTPClientResponse {
        if let h2c { return try await sendOverH2C(request, pool: h2c) }
        var outgoing = HTTPClientRequest(url: url(for: request))
        outgoing.method = request.method
        // The HTTP client writes Host for the target, as Gravitee does unless a policy set another.
        var headers = outgoingHeaders(request.headers)
        let http = configuration.http
        switch request.body {
        case .none:
            headers.remove(name: "content-length")
        case .buffered(let buffer):
            headers.remove(name: "content-length")
            outgoing.body = .bytes(buffer)
        case .stream(let body):
            headers.remove(name: "content-length")
            outgoing.body = body
        }
        outgoing.headers = headers
        var response: HTTPClientResponse
        do {
            response = try await client.execute(outgoing, deadline: .distantFuture)
        } catch {
            throw Self.gatewayError(for: error, endpoint: name)
        }
        // The client decompressed the body; its length and encoding are no longer the backend's.
        if http.useCompression,
            let encoding = response.headers.first(name: "content-encoding")?.lowercased(),
            encoding == "gzip" || encoding == "deflate"
        {
            response.headers.remove(name: "content-encoding")
            response.headers.remove(name: "content-length")
        }
        return response
    }

    /// `send` over the endpoint's h2c connections: the request as the event-loop path sends it (`Host`, from which
    /// the stream's `:authority` comes, is the target's), the body as it comes; the answer decompressed with
    /// `useCompression`, as the HTTP client does.
    private func sendOverH2C(_ request: HTTPProxyRequest, pool: H2CConnectionPool) async throws -> HTTPClientResponse {
        var headers = outgoingHeaders(request.headers)
        headers.add(name: "host", value: hostHeader)
        switch request.body {
        case .none:
            headers.remove(name: "content-length")
        case .buffered(let buffer):
            headers.replaceOrAdd(name: "content-length", value: String(buffer.readableBytes))
        case .stream:
            // The client's own length, if it gave one, is the length of what is forwarded.
            break
        }
        let head = HTTPRequestHead(
            version: .http1_1, method: request.method,
            uri: requestTarget(relativePath: request.relativePath, query: request.query), headers: headers)
        var response = try await H2CStreamExchange.send(
            head: head, body: request.body, pool: pool, endpointName: name,
            readTimeout: .milliseconds(configuration.http.readTimeoutMs))
        if configuration.http.useCompression,
            let encoding = response.headers.first(name: "content-encoding")?.lowercased(),
            encoding == "gzip" || encoding == "deflate"
        {
            response.headers.remove(name: "content-encoding")
            response.headers.remove(name: "content-length")
            response.body = .stream(
                DecompressedBody(base: response.body, encoding: encoding == "gzip" ? .gzip : .deflate, maxRatio: 100))
        }
        return response
    }

    /// A failure of the HTTP client as the gateway reports it: a timeout 504, anything else 502.
    static func gatewayError(for error: any Error, endpoint: String) -> any Error {
        if error is CancellationError { return error }
        if let error = error as? HTTPClientError {
            switch error {
            case .cancelled: return CancellationError()
            case .connectTimeout: return GatewayError.backendConnectTimeout()
            case .readTimeout, .deadlineExceeded:
                return GatewayError.backendTimeout("Request timeout: endpoint '\(endpoint)' did not answer in time")
            default: break
            }
        }
        if let error = error as? GatewayError { return error }
        return GatewayError.backendConnection(
            "Endpoint '\(endpoint)' could not be reached: \(String(describing: error).prefix(200))")
    }

    /// Whether a failure is the backend's (tried again on failover), not the client's.
    static func isBackendFailure(_ error: any Error) -> Bool {
        !(error is CancellationError)
    }

    func shutdown() async {
        connections?.shutdown()
        h2c?.shutdown()
        try? await client.shutdown()
    }

    deinit {
        // A deployment that is dropped without being stopped (a registry discarded whole) still lets its pool go;
        // the client stays alive until its shutdown completes. After `shutdown()` this only reports "already".
        connections?.shutdown()
        h2c?.shutdown()
        _ = client.shutdown()
    }
}
