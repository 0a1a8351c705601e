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
        guard let deployment = registry.table.route(host: request.head.authority, path: request.uri.path) else {
            try await GatewayError.noAPI(path: request.uri.path).write(to: writer)
            return
        }
        let plan: SecurityChain.ResolvedPlan
        switch await deployment.resolvePlan(.init(fields: request.headers, uri: request.uri), access: registry.access)
        {
        case .success(let resolved): plan = resolved
        case .failure(let error):
            try await error.write(to: writer)
            return
        }
        let method = request.method
        if method == .post, let post = deployment.httpPost {
            try await post.entrypoint.handle(request, writer: writer, invocation: post.invocation, plan: plan)
        } else if method == .get, let sse = deployment.sse, SSEEntrypoint.matches(request.head) {
            let departure = try? await channel.pipeline.handler(type: ClientDepartureHandler.self).get()
            try await sse.entrypoint.handle(
                request, writer: writer, invocation: sse.invocation, channel: channel
            ) { action in
                if let departure {
                    departure.onDeparture(action)
                } else {
                    channel.closeFuture.whenComplete { _ in action() }
                }
            }
        } else if method == .get, let get = deployment.httpGet {
            try await get.entrypoint.handle(request, writer: writer, invocation: get.invocation)
        } else {
            try await GatewayError.noEntrypoint(method: request.method.rawValue).write(to: writer)
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
        guard let deployment = registry.table.route(host: head.authority, path: uri.path) else {
            return refuse(.policyViolation, .noAPI(path: uri.path))
        }
        let credentials = SecurityChain.Credentials(fields: head.headerFields, uri: uri)
        // Decided now when it can be; else (a JWK set, an introspection to wait for) after the upgrade, before
        // the first message: a refusal is a close with 1008 either way.
        let decidedNow = deployment.resolvePlanNow(credentials, access: registry.access)
        if case .failure(let error)? = decidedNow {
            return refuse(.policyViolation, error)
        }
        let access = registry.access
        guard let bound = deployment.webSocket else {
            return refuse(.policyViolation, .noEntrypoint(method: "WebSocket"))
        }
        let ended = EndSignal()
        guard let registration = deployment.streams.register(end: { reason in ended.fire(reason) }) else {
            return refuse(.init(codeNumber: 1013), .tooManyConnections(limit: limits.maxStreamingConnections))
        }
        let (clientIdentifier, generated) = ClientIdentifier.resolve(headers: head.headerFields, uri: uri)
        return .upgrade([ClientIdentifier.field: clientIdentifier]) { inbound, outbound, _ in
            if decidedNow == nil, case .failure(let error) = await deployment.resolvePlan(credentials, access: access) {
                try await outbound.close(
                    .policyViolation, reason: WebSocketEntrypoint.closeReason("\(error.key): \(error.message)"))
                return
            }
            ended.onFire { _ in
                // The registry calls enders synchronously; closing is async, so it runs on its own task.
                Task { try? await outbound.close(.goingAway, reason: "Stopping, please reconnect") }
            }
            try await bound.entrypoint.handle(
                inbound: inbound, outbound: outbound, invocation: bound.invocation, registration: registration,
                clientIdentifier: clientIdentifier, clientIdentifierIsGenerated: generated, channel: channel
            )
        }
    }
}
