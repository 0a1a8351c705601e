import AsyncHTTPClient
public import HTTPTypes
public import HummingbirdCore
import NIOCore
import NIOHTTP1
public import SluiceCore
public import SluiceEndpoints

/// Gravitee's `http-proxy` entrypoint: the request goes to the API's backend as it came (path after the context
/// path, query, headers, body), and the backend's answer comes back as it is, both bodies streamed.
///
/// Headers: hop-by-hop headers (and those the `Connection` header names) are removed both ways; `Host` becomes the
/// target's (as Gravitee does); `X-Forwarded-For` gets the client's address appended, and `X-Forwarded-Proto`,
/// `-Host`, `-Port` and `-Prefix` (the context path) are set, replacing what the client sent.
public struct HTTPProxyEntrypoint: Sendable {
    public static let type = "http-proxy"

    /// Gravitee's entrypoint has no settings of its own; unknown fields are reported and ignored.
    public struct Configuration: Sendable {
        public static func parse(
            _ object: JSONObject, at path: JSONPath, diagnostics: inout DiagnosticCollector
        ) -> Configuration {
            ConfigurationReader(object, at: path).warnUnknown([], &diagnostics)
            return Configuration()
        }
    }

    /// What the gateway knows of one request besides the request itself.
    public struct Exchange: Sendable {
        /// The listener path the request matched: removed from the path, sent as `X-Forwarded-Prefix`.
        public var contextPath: String
        public var clientAddress: String?
        /// The port the gateway received the request on, when the `Host` header names none.
        public var serverPort: Int?
        /// The circuit breaker the request counts on when failover is per subscription.
        public var breakerKey: String
        /// The header (lower case) and the query parameter that carry an API key, removed before the backend;
        /// nil when the plan propagates the key (`propagateApiKey`).
        public var apiKeyHeader: String?
        public var apiKeyQueryParameter: String?
        /// Whether `Authorization` is removed before the backend (a JWT or OAuth2 plan with
        /// `propagateAuthHeader: false`).
        public var removeAuthorization: Bool
        /// Headers every response carries (rate limits).
        public var responseHeaders: HTTPFields
        /// The API's CORS settings and the request's origin: applied to every answer, after the response phase.
        public var cors = ResponseCORS()
        /// The request's run through its API's flows, its request phase passed: the backend gets the headers as
        /// the phase left them, and the backend's response goes through the response phase. Nil: no flows.
        public var flow: FlowRun?
        /// The request's spans, when the gateway traces: the entrypoint reports its answer and the backend
        /// attempts to it.
        public var trace: (any HTTPProxyTrace)?
        /// Registers an action for when the client goes away; returns its deregistration.
        public var onDeparture: @Sendable (@escaping @Sendable () -> Void) -> (@Sendable () -> Void)

        public init(
            contextPath: String, clientAddress: String?, serverPort: Int?, breakerKey: String,
            apiKeyHeader: String?, apiKeyQueryParameter: String?, removeAuthorization: Bool,
            responseHeaders: HTTPFields,
            onDeparture: @escaping @Sendable (@escaping @Sendable () -> Void) -> (@Sendable () -> Void)
        ) {
            self.contextPath = contextPath
            self.clientAddress = clientAddress
            self.serverPort = serverPort
            self.breakerKey = breakerKey
            self.apiKeyHeader = apiKeyHeader
            self.apiKeyQueryParameter = apiKeyQueryParameter
            self.removeAuthorization = removeAuthorization
            self.responseHeaders = responseHeaders
            self.onDeparture = onDeparture
        }
    }

    public let configuration: Configuration
    public let group: HTTPProxyGroup
    public let limits: GatewayLimits

    public init(configuration: Configuration, group: HTTPProxyGroup, limits: GatewayLimits) {
        self.configuration = configuration
        self.group = group
        self.limits = limits
    }

    public func handle(_ request: Request, writer: consuming ResponseWriter, exchange: Exchange) async throws {
        let target = request.head.path ?? "/"
        let queryStart = target.firstIndex(of: "?")
        let path = target[..<(queryStart ?? target.endIndex)]
        var query = queryStart.map { target[target.index(after: $0)...] } ?? ""
        let relativePath = exchange.contextPath == "/" ? path : path.dropFirst(exchange.contextPath.utf8.count)
        if let parameter = exchange.apiKeyQueryParameter { query = Self.query(query, without: parameter) }
        let headers: HTTPHeaders
        if let flow = exchange.flow {
            headers = Self.forwardedRequestHeaders(
                flow.requestHeaders,
                authority: request.head.authority, exchange: exchange)
        } else {
            headers = Self.forwardedRequestHeaders(
                request.headers.lazy.map { (name: $0.name.rawName, value: $0.value) },
                authority: request.head.authority, exchange: exchange)
        }

        let contentLength = request.headers[.contentLength].flatMap { Int64($0) }
        var upload: RequestBodyUpload?
        let hasBody = contentLength.map { $0 > 0 } ?? (request.headers[.transferEncoding] != nil)
        let body: HTTPProxyRequest.Body
        if !hasBody {
            body = .none
        } else if group.failover.enabled {
            // A request that may be sent again is read whole first (bounded), as Gravitee's failover does.
            guard let collected = try await collectBody(request.body, limit: limits.maxRequestBodyBytes) else {
                let refusal = GatewayError.payloadTooLarge(limit: limits.maxRequestBodyBytes)
                exchange.trace?.answered(status: refusal.status, error: refusal.key)
                try await refusal.write(
                    to: writer, closeConnection: true, headers: exchange.cors.applied(to: exchange.responseHeaders))
                return
            }
            body = .buffered(collected)
        } else {
            // Read by a task of this exchange's, which is stopped and waited for before the exchange ends (below).
            let relay = ProxyPipe<ProxyRequestBodyEvent>()
            let requestBody = request.body
            upload = RequestBodyUpload(
                relay: relay,
                task: Task {
                    do {
                        for try await chunk in requestBody { await relay.send(.chunk(chunk)) }
                        await relay.send(.end)
                    } catch {
                        await relay.send(.failed(error))
                    }
                })
            body = .stream(
                .stream(RelayedRequestBody(pipe: relay), length: contentLength.map { .known($0) } ?? .unknown))
        }
        let outgoing = HTTPProxyRequest(
            method: HTTPMethod(rawValue: request.method.rawValue), relativePath: relativePath, query: query,
            headers: headers, body: body)
        do {
            try await forward(outgoing, writer: writer, exchange: exchange)
        } catch {
            await upload?.stop()
            throw error
        }
        await upload?.stop()
    }

    /// Sends `outgoing` to the backend and relays its answer to `writer`.
    private func forward(
        _ outgoing: HTTPProxyRequest, writer: consuming ResponseWriter, exchange: Exchange
    ) async throws {
        let pipe = ProxyPipe<ProxyResponseEvent>()
        let group = self.group
        let breakerKey = exchange.breakerKey
        let trace = exchange.trace
        // Unstructured: the response writer cannot leave this task, and the backend's side must be cancellable
        // from here when the client goes away; it ends with the exchange (cancelled below at the latest).
        let reader = Task {
            do {
                let response = try await group.send(outgoing, breakerKey: breakerKey, trace: trace)
                await pipe.send(.head(response.status, response.headers))
                for try await chunk in response.body {
                    await pipe.send(.chunk(chunk))
                }
                await pipe.send(.end)
            } catch {
                await pipe.send(.failed(error))
            }
        }
        let deregister = exchange.onDeparture { pipe.depart(with: .departed) }
        defer {
            deregister()
            pipe.close()
            reader.cancel()
        }
        switch await pipe.next() {
        case .head(let status, let backendHeaders):
            var head = HTTPResponse(status: .init(code: Int(status.code), reasonPhrase: status.reasonPhrase))
            head.headerFields = Self.forwardedResponseHeaders(backendHeaders)
            head.headerFields.append(contentsOf: exchange.responseHeaders)
            if let flow = exchange.flow {
                // The response phase, on the head (the body streams through as it is).
                var headers = MessageHeaders()
                for field in head.headerFields { headers.add(name: field.name.rawName, value: field.value) }
                if let error = await flow.runResponse(headers: &headers, status: Int(status.code)) {
                    trace?.attemptEnded(error: nil)
                    trace?.answered(status: error.status, error: error.key)
                    try await error.write(to: writer, headers: exchange.cors.applied(to: exchange.responseHeaders))
                    return
                }
                head.headerFields = HTTPFields(headers)
            }
            head.headerFields = exchange.cors.applied(to: head.headerFields)
            trace?.answered(status: Int(status.code), error: nil)
            var bodyWriter = try await writer.writeHead(head)
            while true {
                switch await pipe.next() {
                case .chunk(let chunk):
                    try await bodyWriter.write(chunk)
                case .end:
                    try await bodyWriter.finish(nil)
                    trace?.attemptEnded(error: nil)
                    return
                case .failed(let error):
                    // The head is out: the connection is closed so that the client sees the answer is incomplete.
                    throw error
                case .departed:
                    throw CancellationError()
                case .head:
                    throw GatewayError.backendConnection("The backend sent a second response head.")
                }
            }
        case .failed(let error):
            let failure =
                error as? GatewayError ?? .backendConnection("The backend could not be reached: \(error)")
            trace?.answered(status: failure.status, error: failure.key)
            try await failure.write(to: writer, headers: exchange.cors.applied(to: exchange.responseHeaders))
        case .departed, .chunk, .end:
            // The client left before the backend answered; there is no one to write to.
            return
        }
    }

    /// The task that reads a streamed request body for the backend, and the pipe it hands the parts to.
    private struct RequestBodyUpload {
        let relay: ProxyPipe<ProxyRequestBodyEvent>
        let task: Task<Void, Never>

        /// Stops reading the client's body and waits until the task has stopped: the connection reads on (its next
        /// request) only after this.
        func stop() async {
            relay.close()
            task.cancel()
            await task.value
        }
    }

    /// `query` without the parameter `name` (the API key's, which never reaches the backend).
    public static func query(_ query: Substring, without name: String) -> Substring {
        guard !query.isEmpty, query.utf8.firstRange(of: name.utf8) != nil else { return query }
        return Substring(
            query.split(separator: "&").filter {
                let key = $0.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
                return (String(key).removingPercentEncoding ?? String(key)) != name
            }.joined(separator: "&"))
    }

    /// The client's headers (name as sent, value) as the backend gets them; `authority` is the request's (its
    /// `Host`).
    public static func forwardedRequestHeaders(
        _ fields: some Sequence<(name: String, value: String)>, authority: String?, exchange: Exchange
    ) -> HTTPHeaders {
        var named: Set<String>?
        var kept: [(String, String)] = []
        kept.reserveCapacity(fields.underestimatedCount + 6)
        var forwardedFor: String?
        for field in fields {
            switch ProxyHeaderName(field.name) {
            case .connection:
                // Headers the client named in `Connection` are hop-by-hop too (rare: collected when seen).
                ProxyHeaderName.nominated(by: field.value, into: &named)
                continue
            case .transferEncoding, .hopByHop, .forwardedSet:
                continue
            case .forwardedFor:
                forwardedFor = forwardedFor.map { $0 + ", " + field.value } ?? field.value
                continue
            case .authorization where exchange.removeAuthorization:
                continue
            case .host, .acceptEncoding, .authorization, .contentLength, .other:
                if let apiKeyHeader = exchange.apiKeyHeader,
                    ProxyHeaderName.equals(field.name, lowercased: apiKeyHeader)
                {
                    continue
                }
                kept.append((field.name, field.value))
            }
        }
        if let named {
            kept.removeAll { named.contains($0.0.lowercased()) }
            if named.contains("x-forwarded-for") { forwardedFor = nil }
        }
        if let client = exchange.clientAddress {
            kept.append(("X-Forwarded-For", forwardedFor.map { $0 + ", " + client } ?? client))
        } else if let forwardedFor {
            kept.append(("X-Forwarded-For", forwardedFor))
        }
        kept.append(("X-Forwarded-Proto", "http"))
        if let authority, !authority.isEmpty {
            kept.append(("X-Forwarded-Host", authority))
            if let port = Self.port(of: authority) ?? exchange.serverPort {
                kept.append(("X-Forwarded-Port", String(port)))
            }
        } else if let port = exchange.serverPort {
            kept.append(("X-Forwarded-Port", String(port)))
        }
        if exchange.contextPath != "/" { kept.append(("X-Forwarded-Prefix", exchange.contextPath)) }
        return HTTPHeaders(kept)
    }

    /// The backend's headers as the client gets them.
    static func forwardedResponseHeaders(_ headers: HTTPHeaders) -> HTTPFields {
        let forwarded = forwardedResponseHeaders(nio: headers)
        var fields = HTTPFields()
        fields.reserveCapacity(forwarded.count)
        for (name, value) in forwarded {
            guard let fieldName = HTTPField.Name(name) else { continue }
            fields.append(HTTPField(name: fieldName, value: value))
        }
        return fields
    }

    /// The backend's headers as the client gets them, for a response written by the event loop. The headers come
    /// back unchanged (no copy) when none of them is hop-by-hop.
    public static func forwardedResponseHeaders(nio headers: HTTPHeaders) -> HTTPHeaders {
        var named: Set<String>?
        var dropped = 0
        for (name, value) in headers {
            let kind = ProxyHeaderName(name)
            guard kind.isHopByHop else { continue }
            dropped += 1
            if kind == .connection { ProxyHeaderName.nominated(by: value, into: &named) }
        }
        guard dropped > 0 else { return headers }
        var kept: [(String, String)] = []
        kept.reserveCapacity(headers.count - dropped)
        for (name, value) in headers where !ProxyHeaderName(name).isHopByHop {
            if let named, named.contains(name.lowercased()) { continue }
            kept.append((name, value))
        }
        return HTTPHeaders(kept)
    }

    /// The port an authority (`host:port`, `[v6]:port`) names, if any.
    static func port(of authority: String) -> Int? {
        guard let colon = authority.lastIndex(of: ":"), !authority[colon...].utf8.contains(UInt8(ascii: "]"))
        else { return nil }
        return Int(authority[authority.index(after: colon)...])
    }
}
