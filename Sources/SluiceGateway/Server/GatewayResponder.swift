import Foundation
import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import SluiceCore
import SluiceEntrypoints

/// Routes each request to its API and entrypoint, as Gravitee chooses them: a WebSocket upgrade first
/// (handled by ``upgrade(_:)``), then SSE for a GET accepting `text/event-stream`, then `http-get` for GET and
/// `http-post` for POST.
struct GatewayResponder: Sendable {
    let registry: DeploymentRegistry
    let limits: GatewayLimits
    let logger: Logger

    func respond(_ request: Request, _ writer: consuming ResponseWriter, _ channel: any Channel) async throws {
        guard let route = registry.table.match(host: request.head.authority, path: request.uri.path) else {
            try await GatewayError.noAPI(path: request.uri.path).write(to: writer)
            return
        }
        let deployment = route.deployment
        // CORS comes before plans, as in Gravitee: a preflight is answered here, and every other answer, errors
        // included, gets its CORS headers.
        let cors = ResponseCORS(configuration: deployment.cors, origin: request.headers[.origin])
        if let configuration = cors.configuration,
            CORSConfiguration.isPreflight(method: request.method.rawValue, headers: MessageHeaders(request.headers))
        {
            try await preflight(
                request, writer, channel: channel, configuration: configuration, cors: cors, route: route)
            return
        }
        let plan: SecurityChain.ResolvedPlan
        let credentials = SecurityChain.Credentials(
            fields: request.headers, uri: request.uri, method: request.method.rawValue,
            names: deployment.apiKeyFields)
        switch await deployment.resolvePlan(credentials, access: registry.access) {
        case .success(let resolved): plan = resolved
        case .failure(let error):
            try await error.write(to: writer, headers: cors.applied(to: [:]))
            return
        }
        // The event-loop handler counts the answer; it learns the plan from here.
        if deployment.observation.isEnabled {
            registry.observability?.noteDecidedPlan(plan, connection: ObjectIdentifier(channel))
        }
        let method = request.method
        if let proxy = deployment.httpProxy {
            try await self.proxy(
                request, writer, channel: channel, proxy: proxy, deployment: deployment, route: route, plan: plan,
                cors: cors)
            return
        }
        let entrypoint: String
        if method == .post, deployment.httpPost != nil {
            entrypoint = HTTPPostEntrypoint.type
        } else if method == .get, deployment.sse != nil, SSEEntrypoint.matches(request.head) {
            entrypoint = SSEEntrypoint.type
        } else if method == .get, deployment.httpGet != nil {
            entrypoint = HTTPGetEntrypoint.type
        } else {
            try await GatewayError.noEntrypoint(method: request.method.rawValue).write(
                to: writer, headers: cors.applied(to: [:]))
            return
        }
        // The request phase's rate limits, and for a POST (one message) the publish phase's.
        var responseHeaders: HTTPFields = [:]
        if let gate = deployment.rateLimitGate(
            entrypoint == HTTPPostEntrypoint.type ? [.request, .publish] : [.request], plan: plan,
            entrypoint: entrypoint, clientAddress: channel.remoteAddress?.ipAddress, path: request.uri.path,
            contextPath: route.path, method: method.rawValue)
        {
            let outcome = await gate.check(registry.rateLimitStore)
            if let refusal = outcome.refusal {
                try await refusal.write(to: writer, headers: cors.applied(to: outcome.fields))
                return
            }
            responseHeaders = outcome.fields
        }
        // The flows: the request phase now, then the response phase on the headers every answer carries (the
        // entrypoint runs each message through the publish or subscribe phase).
        let flow = deployment.startFlows(
            plan: plan, access: registry.access.current, entrypoint: entrypoint, method: method.rawValue,
            uri: request.uri,
            contextPath: route.path, headers: request.headers, remoteAddress: channel.remoteAddress?.ipAddress,
            localAddress: channel.localAddress?.ipAddress, host: request.head.authority)
        if let flow {
            // A message API has no step that answers in the endpoint's place (`mock` is refused at deploy).
            if let error = await flow.runRequest().error {
                try await error.write(to: writer, headers: cors.applied(to: responseHeaders))
                return
            }
            var headers = MessageHeaders(responseHeaders)
            if let error = await flow.runResponse(headers: &headers) {
                try await error.write(to: writer, headers: cors.applied(to: responseHeaders))
                return
            }
            responseHeaders = headers.httpFields
        }
        responseHeaders = cors.applied(to: responseHeaders)
        let observer = deployment.messageObserver(plan: plan, entrypoint: entrypoint) {
            deployment.flowRequest(
                plan: plan, access: registry.access.current, entrypoint: entrypoint, method: method.rawValue,
                uri: request.uri, contextPath: route.path, headers: request.headers,
                remoteAddress: channel.remoteAddress?.ipAddress, localAddress: channel.localAddress?.ipAddress,
                host: request.head.authority)
        }
        if let observer { registry.observability?.noteObserver(observer, connection: ObjectIdentifier(channel)) }
        let trace = deployment.observation.tracing?.startRequest(
            entrypoint: entrypoint, method: method.rawValue, path: request.uri.path, route: route.path, plan: plan,
            traceContext: request.headers)
        func bound(_ invocation: EntrypointInvocation) -> EntrypointInvocation {
            var invocation = invocation.with(responseHeaders: responseHeaders)
            invocation.flow = flow
            invocation.observer = observer
            invocation.trace = trace
            return invocation
        }
        do {
            try await serve(
                entrypoint, request, writer, channel: channel, deployment: deployment, credentials: credentials,
                plan: plan, bound: bound)
        } catch {
            trace?.end(status: nil, error: "\(error)")
            throw error
        }
        trace?.end(status: nil, error: nil)
    }

    /// Hands a message API's request to its entrypoint.
    private func serve(
        _ entrypoint: String, _ request: Request, _ writer: consuming ResponseWriter, channel: any Channel,
        deployment: Deployment, credentials: SecurityChain.Credentials, plan: SecurityChain.ResolvedPlan,
        bound: (EntrypointInvocation) -> EntrypointInvocation
    ) async throws {
        switch entrypoint {
        case HTTPPostEntrypoint.type:
            let post = deployment.httpPost!
            try await post.entrypoint.handle(
                request, writer: writer, invocation: bound(post.invocation), plan: plan)
        case SSEEntrypoint.type:
            let sse = deployment.sse!
            let departure = try? await channel.pipeline.handler(type: ClientDepartureHandler.self).get()
            var invocation = sse.invocation
            invocation.grant = deployment.streamGrant(
                credentials, plan: plan, access: registry.access)
            try await sse.entrypoint.handle(request, writer: writer, invocation: bound(invocation), channel: channel) {
                action in
                if let departure {
                    departure.onDeparture(action)
                } else {
                    channel.closeFuture.whenComplete { _ in action() }
                }
            }
        default:
            let get = deployment.httpGet!
            try await get.entrypoint.handle(request, writer: writer, invocation: bound(get.invocation))
        }
    }

    /// Forwards a request of a proxy API to its backend, after the request phase's rate limits and flows; or
    /// answers it in the backend's place when a request step chose to (`mock`).
    private func proxy(
        _ request: Request, _ writer: consuming ResponseWriter, channel: any Channel, proxy: HTTPProxyEntrypoint,
        deployment: Deployment, route: RoutingTable.Route, plan: SecurityChain.ResolvedPlan, cors: ResponseCORS
    ) async throws {
        let trace = deployment.observation.tracing?.startProxyRequest(
            method: request.method.rawValue, path: request.uri.path, route: route.path, plan: plan,
            traceParent: request.headers[MessageHeaders.traceParentField],
            traceState: request.headers[MessageHeaders.traceStateField])
        do {
            try await forward(
                request, writer, channel: channel, proxy: proxy, deployment: deployment, route: route, plan: plan,
                cors: cors, trace: trace)
        } catch {
            trace?.end(error: ProxyRequestTrace.describe(error))
            throw error
        }
        trace?.end(error: nil)
    }

    /// ``proxy(_:_:channel:proxy:deployment:route:plan:cors:)``'s work, which reports its answers to `trace`.
    private func forward(
        _ request: Request, _ writer: consuming ResponseWriter, channel: any Channel, proxy: HTTPProxyEntrypoint,
        deployment: Deployment, route: RoutingTable.Route, plan: SecurityChain.ResolvedPlan, cors: ResponseCORS,
        trace: ProxyRequestTrace?
    ) async throws {
        let clientAddress = channel.remoteAddress?.ipAddress
        var responseHeaders: HTTPFields = [:]
        if let gate = deployment.rateLimitGate(
            [.request], plan: plan, entrypoint: HTTPProxyEntrypoint.type, clientAddress: clientAddress,
            path: request.uri.path, contextPath: route.path, method: request.method.rawValue)
        {
            let outcome = await gate.check(registry.rateLimitStore)
            if let refusal = outcome.refusal {
                trace?.answered(status: refusal.status, error: refusal.key)
                try await refusal.write(to: writer, headers: cors.applied(to: outcome.fields))
                return
            }
            responseHeaders = outcome.fields
        }
        // The flows' request phase, before anything goes to the backend.
        let flow = deployment.startFlows(
            plan: plan, access: registry.access.current, entrypoint: HTTPProxyEntrypoint.type,
            method: request.method.rawValue, uri: request.uri, contextPath: route.path, headers: request.headers,
            remoteAddress: clientAddress, localAddress: channel.localAddress?.ipAddress, host: request.head.authority)
        switch await flow?.runRequest() ?? .proceed {
        case .proceed: break
        case .answer(let answer):
            trace?.answered(status: answer.status, error: nil)
            try await answer.write(to: writer, flow: flow, headers: responseHeaders, cors: cors)
            return
        case .fail(let error):
            trace?.answered(status: error.status, error: error.key)
            try await error.write(to: writer, headers: cors.applied(to: responseHeaders))
            return
        }
        let departure = try? await channel.pipeline.handler(type: ClientDepartureHandler.self).get()
        var exchange = HTTPProxyEntrypoint.Exchange(
            contextPath: route.path, clientAddress: clientAddress, serverPort: channel.localAddress?.port,
            breakerKey: plan.subscription ?? clientAddress ?? "",
            apiKeyHeader: plan.propagatesAPIKey ? nil : deployment.apiKeyFields.lowercasedHeader,
            apiKeyQueryParameter: plan.propagatesAPIKey ? nil : deployment.apiKeyFields.queryParameter,
            removeAuthorization: !plan.propagatesAuthorization, responseHeaders: responseHeaders,
            onDeparture: { action in
                guard let departure else {
                    channel.closeFuture.whenComplete { _ in action() }
                    return {}
                }
                return departure.register(action)
            })
        exchange.flow = flow
        exchange.cors = cors
        exchange.trace = trace
        try await proxy.handle(request, writer: writer, exchange: exchange)
    }

    /// Answers a CORS preflight in the API's place, before plans are checked, as Gravitee does: 200 with the
    /// allowed methods and headers, or 400 `CORS_PREFLIGHT_FAILED`. With `runPolicies` (proxy APIs), the API's
    /// flows run on it first (not its plans' flows: no plan is resolved), and the backend is not called.
    private func preflight(
        _ request: Request, _ writer: consuming ResponseWriter, channel: any Channel,
        configuration: CORSConfiguration, cors: ResponseCORS, route: RoutingTable.Route
    ) async throws {
        let headers: MessageHeaders
        switch configuration.preflight(MessageHeaders(request.headers)) {
        case .success(let allowed): headers = allowed
        case .failure(let refusal):
            try await refusal.write(to: writer, headers: cors.applied(to: [:]))
            return
        }
        var answer = FlowResponse(status: 200, headers: headers)
        let deployment = route.deployment
        var flow: FlowRun?
        if configuration.runPolicies, deployment.httpProxy != nil {
            flow = deployment.startFlows(
                plan: SecurityChain.ResolvedPlan(id: "", securityType: "key-less"), access: registry.access.current,
                entrypoint: HTTPProxyEntrypoint.type, method: request.method.rawValue, uri: request.uri,
                contextPath: route.path, headers: request.headers, remoteAddress: channel.remoteAddress?.ipAddress,
                localAddress: channel.localAddress?.ipAddress, host: request.head.authority)
            switch await flow?.runRequest() ?? .proceed {
            case .proceed: break
            case .answer(let mock):
                // A `mock` step chose its answer after the gateway chose the preflight's: it wins, with the
                // preflight's headers kept.
                answer.status = mock.status
                answer.body = mock.body
                for (name, value) in mock.headers { answer.headers.set(name: name, value: value) }
            case .fail(let error):
                try await error.write(to: writer, headers: cors.applied(to: [:]))
                return
            }
        }
        try await answer.write(to: writer, flow: flow, headers: [:], cors: cors)
    }

    /// Decides a WebSocket upgrade. Requests that cannot be served are still upgraded and then closed at once
    /// with a close code and a reason naming why (the upgrade path cannot answer with an HTTP error body).
    func upgrade(
        _ head: HTTPRequest, channel: (any Channel)? = nil
    ) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        let uri = URI(head.path ?? "/")
        let refuse = {
            (
                code: WebSocketErrorCode, error: GatewayError
            ) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> in
            .upgrade([:]) { _, outbound, _ in
                try await outbound.close(
                    code, reason: WebSocketEntrypoint.closeReason("\(error.key): \(error.message)"))
            }
        }
        guard let route = registry.table.match(host: head.authority, path: uri.path) else {
            return refuse(.policyViolation, .noAPI(path: uri.path))
        }
        let deployment = route.deployment
        let credentials = SecurityChain.Credentials(
            fields: head.headerFields, uri: uri, names: deployment.apiKeyFields)
        // Decided now when it can be; else (a JWK set, an introspection to wait for) after the upgrade, before
        // the first message: a refusal is a close with 1008 either way.
        let decidedNow = deployment.resolvePlanNow(credentials, access: registry.access)
        if case .failure(let error)? = decidedNow {
            return refuse(.policyViolation, error)
        }
        guard let bound = deployment.webSocket else {
            return refuse(.policyViolation, .noEntrypoint(method: "WebSocket"))
        }
        // The upgrade is the request phase; each message the client sends goes through the publish phase.
        let store = registry.rateLimitStore
        let clientAddress = channel?.remoteAddress?.ipAddress
        let localAddress = channel?.localAddress?.ipAddress
        let contextPath = route.path
        let gate = { @Sendable (phase: RateLimitRules.Phase, plan: SecurityChain.ResolvedPlan) -> RateLimitGate? in
            deployment.rateLimitGate(
                [phase], plan: plan, entrypoint: WebSocketEntrypoint.type, clientAddress: clientAddress,
                path: uri.path, contextPath: contextPath, method: "GET")
        }
        var upgradeHeaders: HTTPFields = [:]
        var grant: StreamGrant?
        if case .success(let plan)? = decidedNow {
            // A store that needs I/O is asked after the upgrade, from the connection's task (this decision is
            // taken on the event loop); the answer then has no rate-limit headers.
            if let requestGate = gate(.request, plan), let immediate = store.immediate {
                let outcome = requestGate.checkNow(immediate)
                if let refusal = outcome.refusal { return refuse(.policyViolation, refusal) }
                upgradeHeaders = outcome.fields
            }
            grant = deployment.streamGrant(credentials, plan: plan, access: registry.access)
        }
        let ended = EndSignal()
        guard let registration = deployment.streams.register(grant: grant, end: { reason in ended.fire(reason) })
        else {
            return refuse(.init(codeNumber: 1013), .tooManyConnections(limit: limits.maxStreamingConnections))
        }
        let (clientIdentifier, generated) = ClientIdentifier.resolve(headers: head.headerFields, uri: uri)
        // The upgrade request's trace context (valid only): each message the client publishes carries it on.
        let traceContext = MessageHeaders.traceContext(of: head.headerFields)
        upgradeHeaders[ClientIdentifier.field] = clientIdentifier
        let access = registry.access
        let checkedBeforeUpgrade = store.immediate != nil
        let started = NIODeadline.now().uptimeNanoseconds
        let startedMs = deployment.observation.accessLog != nil ? Date.nowMilliseconds : 0
        return .upgrade(upgradeHeaders) { inbound, outbound, _ in
            func close(_ error: GatewayError) async throws {
                registration.cancel()
                try await outbound.close(
                    .policyViolation, reason: WebSocketEntrypoint.closeReason("\(error.key): \(error.message)"))
            }
            let plan: SecurityChain.ResolvedPlan
            switch decidedNow {
            case .success(let resolved)?:
                plan = resolved
            case .failure(let error)?:
                return try await close(error)
            case nil:
                switch await deployment.resolvePlan(credentials, access: access) {
                case .success(let resolved): plan = resolved
                case .failure(let error): return try await close(error)
                }
            }
            if decidedNow == nil || !checkedBeforeUpgrade, let requestGate = gate(.request, plan),
                let refusal = await requestGate.check(store).refusal
            {
                return try await close(refusal)
            }
            // The flows' request phase runs here, after the upgrade, from the connection's task (it may wait:
            // `latency`); a failure closes the connection with 1008 and `KEY: message`. There is no response phase:
            // the 101 is sent.
            let flow = deployment.startFlows(
                plan: plan, access: access.current, entrypoint: WebSocketEntrypoint.type, method: "GET", uri: uri,
                contextPath: contextPath, headers: head.headerFields, remoteAddress: clientAddress,
                localAddress: localAddress, host: head.authority)
            if let flow, let error = await flow.runRequest().error {
                return try await close(error)
            }
            var invocation = bound.invocation
            invocation.flow = flow
            let observer = deployment.messageObserver(plan: plan, entrypoint: WebSocketEntrypoint.type) {
                deployment.flowRequest(
                    plan: plan, access: access.current, entrypoint: WebSocketEntrypoint.type, method: "GET", uri: uri,
                    contextPath: contextPath, headers: head.headerFields, remoteAddress: clientAddress,
                    localAddress: localAddress, host: head.authority)
            }
            invocation.observer = observer
            let trace = deployment.observation.tracing?.startRequest(
                entrypoint: WebSocketEntrypoint.type, method: "GET", path: uri.path, route: contextPath, plan: plan,
                traceContext: head.headerFields)
            invocation.trace = trace
            defer { trace?.end(status: 101, error: nil) }
            var publishCheck: (@Sendable () async -> GatewayError?)?
            if let publishGate = gate(.publish, plan) {
                publishCheck = { await publishGate.check(store).refusal }
            }
            ended.onFire { reason in
                // The registry calls enders synchronously; closing is async, so it runs on its own task.
                let code: WebSocketErrorCode
                if case .accessEnded = reason { code = .policyViolation } else { code = .goingAway }
                Task { try? await outbound.close(code, reason: WebSocketEntrypoint.closeReason(reason.reason)) }
            }
            let observed = WebSocketObservation(
                deployment: deployment, plan: plan, target: uri.description, started: started,
                startedMs: startedMs)
            defer { observed?.finish(observer: observer) }
            try await bound.entrypoint.handle(
                inbound: inbound, outbound: outbound, invocation: invocation, registration: registration,
                clientIdentifier: clientIdentifier, clientIdentifierIsGenerated: generated, channel: channel,
                publishCheck: publishCheck, traceContext: traceContext
            )
        }
    }
}
