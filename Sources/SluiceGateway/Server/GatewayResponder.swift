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
        let plan: SecurityChain.ResolvedPlan
        switch deployment.resolvePlan(.init(fields: request.headers, uri: request.uri), access: registry.access) {
        case .success(let resolved): plan = resolved
        case .failure(let error):
            try await error.write(to: writer)
            return
        case .success(let resolved):
            plan = resolved
        }
        let method = request.method
        let entrypoint: String
        if method == .post, deployment.httpPost != nil {
            entrypoint = HTTPPostEntrypoint.type
        } else if method == .get, deployment.sse != nil, SSEEntrypoint.matches(request.head) {
            entrypoint = SSEEntrypoint.type
        } else if method == .get, deployment.httpGet != nil {
            entrypoint = HTTPGetEntrypoint.type
        } else {
            try await GatewayError.noEntrypoint(method: request.method.rawValue).write(to: writer)
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
                try await refusal.write(to: writer, headers: outcome.fields)
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
            if let error = await flow.runRequest() {
                try await error.write(to: writer, headers: responseHeaders)
                return
            }
            var headers = MessageHeaders(responseHeaders)
            if let error = await flow.runResponse(headers: &headers) {
                try await error.write(to: writer, headers: responseHeaders)
                return
            }
            responseHeaders = headers.httpFields
        }
        func bound(_ invocation: EntrypointInvocation) -> EntrypointInvocation {
            var invocation = invocation.with(responseHeaders: responseHeaders)
            invocation.flow = flow
            return invocation
        }
        switch entrypoint {
        case HTTPPostEntrypoint.type:
            let post = deployment.httpPost!
            try await post.entrypoint.handle(request, writer: writer, invocation: bound(post.invocation))
        case SSEEntrypoint.type:
            let sse = deployment.sse!
            let departure = try? await channel.pipeline.handler(type: ClientDepartureHandler.self).get()
            var invocation = sse.invocation
            invocation.grant = deployment.streamGrant(
                .init(fields: request.headers, uri: request.uri), plan: plan, access: registry.access)
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
        let plan: SecurityChain.ResolvedPlan
        switch deployment.resolvePlan(.init(fields: head.headerFields, uri: uri), access: registry.access) {
        case .success(let resolved): plan = resolved
        case .failure(let error): return refuse(.policyViolation, error)
        }
        guard let bound = deployment.webSocket else {
            return refuse(.policyViolation, .noEntrypoint(method: "WebSocket"))
        }
        // The upgrade is the request phase; each message the client sends goes through the publish phase.
        let store = registry.rateLimitStore
        func gate(_ phase: RateLimitRules.Phase) -> RateLimitGate? {
            deployment.rateLimitGate(
                [phase], plan: plan, entrypoint: WebSocketEntrypoint.type,
                clientAddress: channel?.remoteAddress?.ipAddress, path: uri.path, contextPath: route.path,
                method: "GET")
        }
        var upgradeHeaders: HTTPFields = [:]
        // A store that needs I/O is asked after the upgrade, from the connection's task (this decision is taken on
        // the event loop); the answer then has no rate-limit headers.
        let requestGate = gate(.request)
        if let requestGate, let immediate = store.immediate {
            let outcome = requestGate.checkNow(immediate)
            if let refusal = outcome.refusal { return refuse(.policyViolation, refusal) }
            upgradeHeaders = outcome.fields
        }
        let requestGateAfterUpgrade = store.immediate == nil ? requestGate : nil
        var publishCheck: (@Sendable () async -> GatewayError?)?
        if let publishGate = gate(.publish) {
            publishCheck = { await publishGate.check(store).refusal }
        }
        let ended = EndSignal()
        let grant = deployment.streamGrant(
            .init(fields: head.headerFields, uri: uri), plan: plan, access: registry.access)
        guard let registration = deployment.streams.register(grant: grant, end: { reason in ended.fire(reason) })
        else {
            return refuse(.init(codeNumber: 1013), .tooManyConnections(limit: limits.maxStreamingConnections))
        }
        let (clientIdentifier, generated) = ClientIdentifier.resolve(headers: head.headerFields, uri: uri)
        upgradeHeaders[ClientIdentifier.field] = clientIdentifier
        let check = publishCheck
        // The flows' request phase runs after the upgrade, from the connection's task (it may wait: `latency`); a
        // failure closes the connection with 1008 and `KEY: message`. There is no response phase: the 101 is sent.
        let flow = deployment.startFlows(
            plan: plan, access: registry.access.current, entrypoint: WebSocketEntrypoint.type, method: "GET", uri: uri,
            contextPath: route.path, headers: head.headerFields, remoteAddress: channel?.remoteAddress?.ipAddress,
            localAddress: channel?.localAddress?.ipAddress, host: head.authority)
        let invocation = {
            var invocation = bound.invocation
            invocation.flow = flow
            return invocation
        }()
        return .upgrade(upgradeHeaders) { inbound, outbound, _ in
            if let gate = requestGateAfterUpgrade, let refusal = await gate.check(store).refusal {
                registration.cancel()
                try await outbound.close(
                    .policyViolation, reason: WebSocketEntrypoint.closeReason("\(refusal.key): \(refusal.message)"))
                return
            }
            if let flow, let error = await flow.runRequest() {
                registration.cancel()
                try await outbound.close(
                    .policyViolation, reason: WebSocketEntrypoint.closeReason("\(error.key): \(error.message)"))
                return
            }
            ended.onFire { reason in
                // The registry calls enders synchronously; closing is async, so it runs on its own task.
                let code: WebSocketErrorCode
                if case .accessEnded = reason { code = .policyViolation } else { code = .goingAway }
                Task { try? await outbound.close(code, reason: WebSocketEntrypoint.closeReason(reason.reason)) }
            }
            try await bound.entrypoint.handle(
                inbound: inbound, outbound: outbound, invocation: invocation, registration: registration,
                clientIdentifier: clientIdentifier, clientIdentifierIsGenerated: generated, channel: channel,
                publishCheck: check
            )
        }
    }
}
