import Foundation
import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
import NIOCore
import NIOHTTP1
import Prometheus
import SluiceCore
import SluiceEntrypoints

/// Serves, right on the connection's event loop, the publishes to an `http-post` entrypoint, the SSE streams of
/// the embedded log, and the requests of proxy APIs whose endpoints keep connections per event loop
/// (``EventLoopProxyExchange``). A publish is answered at once when the endpoint takes messages at once
/// (the embedded log, the mock), through a callback when it reports the broker's acknowledgement that way (Kafka),
/// else from a task of its own (MQTT 5); the connection waits meanwhile, with no task of its own. Every other
/// request passes on, in order, to the gateway's async responder.
///
/// This is the gateway's hottest path, and serving it here spares each request the hand-off to a Swift task and
/// back, and the conversions to and from HTTP types: the handler sits right after the HTTP/1 decoder. Requests
/// are answered in the order they came: once one is passed on, the ones after it are passed on too until its
/// response has ended. A WebSocket upgrade request takes the handler out of the connection's pipeline.
final class EventLoopEntrypointHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Publisher {
        case synchronous(any SynchronousPublishing)
        case callback(any CallbackPublishing)
        /// Any other endpoint: the publish runs in a task of its own, and its outcome comes back to the loop.
        case task(any EndpointConnector)
    }

    /// A publish being read and then awaited. A class: the state, the endpoint's completion and the answer share
    /// one, and the body grows in place as its chunks come (a value copied at each chunk would copy the body).
    /// While it is awaited it also carries what its answer needs (``awaitPublish(_:context:start:)``).
    private final class Publishing: @unchecked Sendable {
        let endpoint: Publisher
        /// The message, its content growing as the body's chunks come (the first chunk is kept as it is).
        var message: Message
        /// The client identifier, echoed back as Gravitee does.
        let clientIdentifier: String
        var tooLarge = false
        let closeAfter: Bool
        let version: HTTPVersion
        /// Set by the rate-limit steps: headers for the answer, and the refusal that is the answer (the body is
        /// then read and dropped).
        let rateLimitHeaders: HTTPHeaders
        let refusal: GatewayError?
        /// While the endpoint's answer is awaited: the connection's handler and context, the loop's task batch,
        /// and then the answer. Set on the connection's loop before the publish starts; the answer is written on
        /// whatever thread the endpoint answers from and read on the loop after the hand-over, which orders the
        /// two (the batch's lock). One object carries all of it, so that the completion and the task handed to
        /// the loop capture just it.
        var awaiting: (handler: EventLoopEntrypointHandler, context: ChannelHandlerContext, batch: LoopTaskBatch)?
        var outcome: Result<Void, any Error> = .success(())

        init(
            endpoint: Publisher, message: Message, clientIdentifier: String, closeAfter: Bool, version: HTTPVersion,
            rateLimitHeaders: HTTPHeaders, refusal: GatewayError?
        ) {
            self.endpoint = endpoint
            self.message = message
            self.clientIdentifier = clientIdentifier
            self.closeAfter = closeAfter
            self.version = version
            self.rateLimitHeaders = rateLimitHeaders
            self.refusal = refusal
        }
    }

    private enum State {
        case idle
        case publishing(Publishing)
        /// A publish waits for its endpoint's answer. The client's reads are paused; what was already read
        /// (pipelined requests) is kept, in order, for after the answer.
        case awaitingPublish(stash: [HTTPServerRequestPart])
        /// An SSE stream holds the connection until it ends; anything the client sends meanwhile is dropped.
        case streaming(EventLoopSSEStream)
        /// Request parts are being passed on until this request's end.
        case passingRequest
        /// A proxy API's request is being forwarded to its backend, and the answer relayed.
        case proxying(EventLoopProxyExchange)
    }

    /// Parts of the requests that came after a forwarded request (pipelining), held until its answer has ended.
    private var proxyStash: [HTTPServerRequestPart] = []

    let registry: DeploymentRegistry
    private let limits: GatewayLimits
    private var state = State.idle
    /// Requests passed on whose response has not ended yet.
    private var responsesPending = 0
    private var quiescing = false
    private var addresses: (client: String?, port: Int?)?
    /// The latest request's target and route, and the routing table's generation it was found in (``route(_:)``).
    private var latestRoute: (uri: String, authority: String?, generation: Int, routed: Routed?)?
    /// The read-timeout timer of proxied exchanges (see `armProxyTimer`).
    private var proxyTimer: Scheduled<Void>?
    /// The connection's event loop (set when the handler is added).
    private(set) var eventLoop: (any EventLoop)?
    /// The access log's line buffer of this connection's loop (see `lines(of:)`).
    var loopLines: (AccessLog, LoopLines)?
    /// The series this connection counted into last (see `series(_:plan:entrypoint:)`), and the status counter.
    var lastSeries: RequestSeries?
    var lastStatusCounter: (series: RequestSeries, status: Int, counter: Counter)?
    /// The requests passed on to the async responder whose answer has not ended, oldest first (observed only
    /// when the gateway keeps metrics or an access log).
    var passedOn: [PassedOnRequest] = []
    /// The proxied request under way, observed, and traced (only when the gateway traces).
    private var proxyObserved: ObservedRequest?
    private var proxyTrace: ProxyRequestTrace?
    /// The publish under way, observed, and its API's observation.
    private var publishObserved: ObservedRequest?
    private var publishObservation: DeploymentObservation?
    /// Where endpoints' answers to this connection's publishes are handed to its loop (set at the first).
    private var loopBatch: LoopTaskBatch?
    /// Identifiers for the key-less requests of this connection that bring none.
    private var identifierNumbers = ClientIdentifierNumbers()
    /// The publish under way, traced (only when the gateway traces): its server span and its message's producer
    /// span.
    private var publishTrace: GatewayRequestTrace?
    private var publishSpan: (any MessageSpan)?

    init(registry: DeploymentRegistry, limits: GatewayLimits) {
        self.registry = registry
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        eventLoop = context.eventLoop
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.idle, .head(let head)) where head.headers.contains(name: "upgrade"):
            // The upgrade handler after this one decides; a WebSocket connection is no place for this handler.
            state = .passingRequest
            responsesPending += 1
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        case (.idle, .head(let head)):
            let routed = responsesPending == 0 ? route(head) : nil
            if let routed, let publishing = takePublish(head, routed, context: context) {
                state = .publishing(publishing)
            } else if let routed, let taken = takeStream(head, routed, context: context) {
                if let stream = taken { state = .streaming(stream) }
            } else if let routed, let exchange = takeProxy(head, routed, context: context) {
                state = .proxying(exchange)
            } else {
                state = .passingRequest
                responsesPending += 1
                observePassedOn(head, routed: routed?.route.deployment)
                context.fireChannelRead(data)
            }
        case (.publishing(let publishing), .body(var chunk)):
            guard !publishing.tooLarge, publishing.refusal == nil else { return }
            let size = publishing.message.content.readableBytes + chunk.readableBytes
            if size > limits.maxRequestBodyBytes {
                publishing.tooLarge = true
                publishing.message.content = ByteBuffer()
            } else if publishing.message.content.readableBytes == 0 {
                publishing.message.content = chunk
            } else {
                publishing.message.content.writeBuffer(&chunk)
            }
        case (.publishing(let publishing), .end):
            state = .idle
            finishPublish(publishing, context: context)
        case (.passingRequest, .end):
            state = .idle
            context.fireChannelRead(data)
        case (.passingRequest, .body(let chunk)):
            if !passedOn.isEmpty { passedOn[passedOn.count - 1].observed.bytesIn += chunk.readableBytes }
            context.fireChannelRead(data)
        case (.passingRequest, _), (.idle, _):
            context.fireChannelRead(data)
        case (.streaming, _):
            break
        case (.proxying(let exchange), _):
            if !exchange.requestEnded {
                exchange.clientRead(part)
            } else {
                // The next request, read before this one's answer has ended, waits for it.
                if proxyStash.isEmpty {
                    context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
                }
                proxyStash.append(part)
            }
        case (.awaitingPublish(var stash), _):
            // A client that sends its next request before the answer (pipelining) is held: what was read is
            // kept, and reading pauses until the answer.
            if stash.isEmpty { context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
            stash.append(part)
            state = .awaitingPublish(stash: stash)
        case (.publishing, .head):
            // A head inside a request cannot come from the HTTP decoder; pass it on for the async side to refuse.
            state = .passingRequest
            responsesPending += 1
            context.fireChannelRead(data)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .proxying(let exchange) = state { exchange.clientReadComplete() }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .streaming(let stream) = state, context.channel.isWritable { stream.pump() }
        if case .proxying(let exchange) = state {
            exchange.clientWritabilityChanged(isWritable: context.channel.isWritable)
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        proxyTimer?.cancel()
        proxyTimer = nil
        if case .streaming(let stream) = state { stream.cleanUp() }
        if case .proxying(let exchange) = state {
            state = .idle
            proxyStash.removeAll()
            exchange.clientGone()
            finishProxyObservation(exchange)
        }
        if !passedOn.isEmpty { finishPassedOn(context: context) }
        // An answer still to come has no one to go to.
        if case .awaitingPublish = state { state = .idle }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        proxyTimer?.cancel()
        proxyTimer = nil
        if case .streaming(let stream) = state { stream.cleanUp() }
        if case .proxying(let exchange) = state {
            exchange.clientGone()
            finishProxyObservation(exchange)
        }
        if !passedOn.isEmpty { finishPassedOn(context: context) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        if !passedOn.isEmpty { observeOutbound(part, context: context) }
        if case .end = part, responsesPending > 0 { responsesPending -= 1 }
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        switch state {
        case .publishing, .awaitingPublish, .proxying:
            // Finish the exchange in progress first; the connection closes after its answer.
            quiescing = true
        case .idle where responsesPending == 0:
            // Nothing in flight on this connection: it can go now. (Connections that only ever carried requests
            // served here have no async side to do it.)
            context.close(promise: nil)
        case .streaming:
            // The gateway's drain ends the stream with its goodbye, which closes the connection.
            quiescing = true
        case .idle, .passingRequest:
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// The publish this request is, if it is one this handler serves. Its rate limits (request and publish phases)
    /// are counted here when the counter store answers at once; with a store that needs I/O the request is passed on.
    private func takePublish(_ head: HTTPRequestHead, _ routed: Routed, context: ChannelHandlerContext) -> Publishing? {
        let (route, path) = (routed.route, routed.path)
        let deployment = route.deployment
        guard head.method == .POST, deployment.publishesOnEventLoop, let post = deployment.httpPost,
            case .success(let plan)? = deployment.resolvePlanNow(
                deployment.credentials(of: head), access: registry.access)
        else { return nil }
        var rateLimits: RateLimitOutcome?
        if let gate = deployment.rateLimitGate(
            [.request, .publish], plan: plan, entrypoint: HTTPPostEntrypoint.type,
            clientAddress: connectionAddresses(context).client, path: path, contextPath: route.path,
            method: "POST")
        {
            guard let store = registry.rateLimitStore.immediate else { return nil }
            rateLimits = gate.checkNow(store)
        }
        // Kept beside the state, not in it: the state is copied at each body chunk.
        if deployment.observation.isEnabled {
            publishObserved = observe(head, deployment: deployment, plan: plan, entrypoint: HTTPPostEntrypoint.type)
            publishObservation = deployment.observation
        }
        let endpoint =
            deployment.synchronousPublisher.map(Publisher.synchronous)
            ?? deployment.callbackPublisher.map(Publisher.callback) ?? .task(deployment.endpoint)
        var message = Message(content: ByteBuffer(), timestamp: Date.nowMilliseconds, attributes: plan.attributes)
        if post.entrypoint.configuration.requestHeadersToMessage {
            let apiKeyHeader = plan.propagatesAPIKey ? nil : deployment.apiKeyFields.lowercasedHeader
            for (name, value) in head.headers {
                let lowercased = name.lowercased()
                if Self.hopHeaders.contains(lowercased) || lowercased == apiKeyHeader { continue }
                if MessageHeaders.isTraceContextName(lowercased) { continue }
                if !plan.propagatesAuthorization, lowercased == "authorization" { continue }
                message.headers.add(name: name, value: value)
            }
        }
        // The client's trace context travels with the message whatever the configuration says (a valid one only).
        message.headers.addTraceContext { head.headers.first(name: $0) }
        if let tracing = deployment.observation.tracing {
            publishTrace = tracing.startRequest(
                entrypoint: HTTPPostEntrypoint.type, method: "POST", path: path, route: route.path, plan: plan,
                traceParent: head.headers.first(name: TraceParent.headerName),
                traceState: head.headers.first(name: TraceParent.stateHeaderName))
        }
        return Publishing(
            endpoint: endpoint, message: message, clientIdentifier: clientIdentifier(of: head),
            closeAfter: !head.isKeepAlive, version: head.version, rateLimitHeaders: rateLimits?.nioHeaders ?? [:],
            refusal: rateLimits?.refusal
        )
    }

    /// Starts forwarding a request of a proxy API whose endpoints keep connections per event loop, when nothing
    /// about it needs the async path: no flow steps, no CORS, a plan decided at once, no rate limits, no
    /// `Expect: 100-continue`, no failover. Nil passes the request on.
    private func takeProxy(
        _ head: HTTPRequestHead, _ routed: Routed, context: ChannelHandlerContext
    ) -> EventLoopProxyExchange? {
        let (route, path, authority) = (routed.route, routed.path, routed.authority)
        guard let proxy = route.deployment.httpProxy, proxy.group.servesFromEventLoop,
            route.deployment.flows == nil, route.deployment.cors == nil, !head.headers.contains(name: "expect"),
            case .success(let plan)? = route.deployment.resolvePlanNow(
                route.deployment.credentials(of: head), access: registry.access)
        else { return nil }
        let addresses = connectionAddresses(context)
        guard
            route.deployment.rateLimitGate(
                [.request], plan: plan, entrypoint: HTTPProxyEntrypoint.type, clientAddress: addresses.client,
                path: path, contextPath: route.path, method: head.method.rawValue) == nil
        else { return nil }
        let deployment = route.deployment
        let endpoint = proxy.group.next()
        guard let pool = endpoint.connections else { return nil }
        let options = HTTPProxyEntrypoint.Exchange(
            contextPath: route.path, clientAddress: addresses.client, serverPort: addresses.port, breakerKey: "",
            apiKeyHeader: plan.propagatesAPIKey ? nil : deployment.apiKeyFields.lowercasedHeader,
            apiKeyQueryParameter: plan.propagatesAPIKey ? nil : deployment.apiKeyFields.queryParameter,
            removeAuthorization: !plan.propagatesAuthorization, responseHeaders: HTTPFields(),
            onDeparture: Self.noDeparture)
        let target = head.uri
        var query = target.utf8.firstIndex(of: UInt8(ascii: "?")).map { target[target.index(after: $0)...] } ?? ""
        if let parameter = options.apiKeyQueryParameter { query = HTTPProxyEntrypoint.query(query, without: parameter) }
        let relativePath = route.path == "/" ? path[...] : path.dropFirst(route.path.utf8.count)
        var headers = HTTPProxyEntrypoint.forwardedRequestHeaders(head.headers, authority: authority, exchange: options)
        endpoint.prepareOutgoing(&headers)
        headers.add(name: "host", value: endpoint.hostHeader)
        if head.headers.contains(name: "transfer-encoding"),
            head.headers[canonicalForm: "transfer-encoding"].contains(where: { $0.lowercased() == "chunked" })
        {
            headers.remove(name: "content-length")
            headers.add(name: "transfer-encoding", value: "chunked")
        }
        if let tracing = deployment.observation.tracing {
            let trace = tracing.startProxyRequest(
                method: head.method.rawValue, path: path, route: route.path, plan: plan,
                traceParent: head.headers.first(name: TraceParent.headerName),
                traceState: head.headers.first(name: TraceParent.stateHeaderName))
            // The backend joins the trace as a child of the attempt's span.
            if let context = trace.attemptStarted(
                head.method, endpoint: endpoint, relativePath: relativePath, resendCount: 0)
            {
                headers.setTraceContext(parent: context.parent, state: context.state)
            }
            proxyTrace = trace
        }
        let outgoing = HTTPRequestHead(
            version: .http1_1, method: head.method,
            uri: endpoint.requestTarget(relativePath: relativePath, query: query), headers: headers)
        let exchange = EventLoopProxyExchange(
            context: context, pool: pool, endpointName: endpoint.name,
            readTimeout: .milliseconds(endpoint.configuration.http.readTimeoutMs), version: head.version,
            clientKeepAlive: head.isKeepAlive, owner: self)
        if deployment.observation.isEnabled {
            proxyObserved = observe(head, deployment: deployment, plan: plan, entrypoint: HTTPProxyEntrypoint.type)
        }
        exchange.start(outgoing)
        if proxyTimer == nil { armProxyTimer(in: exchange.readTimeout, context: context) }
        return exchange
    }

    /// One timer per connection watches the backend's read timeout of the exchange under way: it is armed by the
    /// first exchange and, when it fires, re-armed for what the current exchange has left (each exchange only
    /// notes when the backend last sent something). A connection with no exchange under way lets it lapse.
    private func armProxyTimer(in delay: TimeAmount, context: ChannelHandlerContext) {
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        proxyTimer = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = bound.value
            handler.proxyTimer = nil
            guard case .proxying(let exchange) = handler.state, let left = exchange.timeRemaining() else { return }
            handler.armProxyTimer(in: left, context: context)
        }
    }

    /// The client's address and the port it reached the gateway on, read once per connection (each read formats
    /// the address anew).
    private func connectionAddresses(_ context: ChannelHandlerContext) -> (client: String?, port: Int?) {
        if let addresses { return addresses }
        let read = (client: context.channel.remoteAddress?.ipAddress, port: context.channel.localAddress?.port)
        addresses = read
        return read
    }

    private static let noDeparture: @Sendable (@escaping @Sendable () -> Void) -> (@Sendable () -> Void) = { _ in {} }

    /// A forwarded request's answer has ended (the exchange under way tells, see ``EventLoopProxyExchange``): the
    /// requests read meanwhile are served, or the connection closes.
    func proxyEnded(
        closeClient: Bool, lastWrite: EventLoopFuture<Void>?, context: ChannelHandlerContext
    ) {
        guard case .proxying(let exchange) = state else { return }
        finishProxyObservation(exchange)
        state = .idle
        let stash = proxyStash
        proxyStash.removeAll()
        guard context.channel.isActive else { return }
        if closeClient || quiescing {
            guard let lastWrite else {
                context.close(promise: nil)
                return
            }
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            lastWrite.whenComplete { _ in bound.value.close(promise: nil) }
            return
        }
        guard !stash.isEmpty else { return }
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        for part in stash { channelRead(context: context, data: wrapInboundOut(part)) }
        channelReadComplete(context: context)
    }

    /// The identifier the client gave (header, else query parameter), or a new one.
    func clientIdentifier(of head: HTTPRequestHead) -> String {
        if let header = head.headers.first(name: ClientIdentifier.name), ClientIdentifier.isUsable(header) {
            return header
        }
        if head.uri.utf8.contains(UInt8(ascii: "?")),
            let query = URI(head.uri).queryParameters[ClientIdentifier.name[...]], ClientIdentifier.isUsable(query)
        {
            return String(query)
        }
        return identifierNumbers.generate()
    }

    /// Request headers that describe the HTTP exchange rather than the message; never copied into it.
    static let hopHeaders: Set<String> = Set(HTTPPostEntrypoint.hopHeaders.map { $0.canonicalName })

    /// Takes an SSE request on an API whose endpoint is the embedded log. Returns nil when the request is not
    /// one this handler serves; `.some(nil)` when it answered it with an error; `.some(stream)` when streaming.
    private func takeStream(
        _ head: HTTPRequestHead, _ routed: Routed, context: ChannelHandlerContext
    ) -> EventLoopSSEStream?? {
        let (route, path) = (routed.route, routed.path)
        guard head.method == .GET, let sse = route.deployment.sse,
            head.headers["accept"].contains(where: { $0.lowercased().contains("text/event-stream") }),
            let endpoint = route.deployment.inMemoryEndpoint,
            // Flows with steps the engine runs, CORS, logging the messages sent and traced deliveries take the
            // async path.
            route.deployment.flows == nil, route.deployment.cors == nil,
            route.deployment.observation.messageLog?.subscribePhase != true,
            route.deployment.observation.tracing == nil,
            case .success(let plan)? = route.deployment.resolvePlanNow(
                route.deployment.credentials(of: head), access: registry.access)
        else { return nil }
        let deployment = route.deployment
        // The connection is the request phase: counted here when the store answers at once, else on the async path.
        let gate = deployment.rateLimitGate(
            [.request], plan: plan, entrypoint: SSEEntrypoint.type,
            clientAddress: connectionAddresses(context).client, path: path, contextPath: route.path,
            method: "GET")
        let store = registry.rateLimitStore.immediate
        if gate != nil, store == nil { return nil }
        var lastEventID = head.headers.first(name: "last-event-id")
        if lastEventID?.isEmpty == true || sse.invocation.qos == .none { lastEventID = nil }
        let offset: Int64
        var observed =
            deployment.observation.isEnabled
            ? observe(head, deployment: deployment, plan: plan, entrypoint: SSEEntrypoint.type) : nil
        func refused(_ status: Int) {
            guard var observed else { return }
            observed.status = status
            finish(observed)
        }
        do {
            offset = try endpoint.startOffset(resumeAfter: lastEventID)
        } catch let error as GatewayError {
            context.writeGatewayError(error, version: head.version, closeAfter: !head.isKeepAlive)
            refused(error.status)
            return .some(nil)
        } catch {
            return nil
        }
        var rateLimitHeaders = HTTPHeaders()
        if let gate, let store {
            let outcome = gate.checkNow(store)
            if let refusal = outcome.refusal {
                context.writeGatewayError(
                    refusal, version: head.version, closeAfter: !head.isKeepAlive, headers: outcome.nioHeaders)
                refused(refusal.status)
                return .some(nil)
            }
            rateLimitHeaders = outcome.nioHeaders
        }
        let stream = EventLoopSSEStream(
            topic: endpoint.inMemoryTopic, offset: offset, entrypoint: sse.entrypoint, version: head.version,
            context: context, extraHeaders: rateLimitHeaders
        )
        let loopBound = NIOLoopBound(stream, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        guard
            let registration = deployment.streams.register(
                grant: deployment.streamGrant(
                    deployment.credentials(of: head), plan: plan, access: registry.access),
                end: { reason in eventLoop.execute { loopBound.value.end(reason) } })
        else {
            context.writeGatewayError(
                .tooManyConnections(limit: limits.maxStreamingConnections), version: head.version,
                closeAfter: !head.isKeepAlive
            )
            refused(GatewayError.tooManyConnections(limit: limits.maxStreamingConnections).status)
            return .some(nil)
        }
        if observed != nil {
            observed!.status = 200
            observed!.stream = true
            observed!.answeredAt = NIODeadline.now().uptimeNanoseconds
            let series = observed!.series
            series?.activeConnections.increment()
            stream.series = series
            let finished = observed!
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            stream.onFinish = { stream in
                series?.activeConnections.decrement()
                var observed = finished
                observed.bytesOut = stream.bytesSent
                observed.messagesOut = stream.messagesSent
                // The stream counted its bytes and messages as it wrote them.
                handler.value.finish(observed, countBytesOut: false)
            }
            observed = nil
        }
        stream.start(registration: registration)
        // The connection is a stream from now on: the WebSocket upgrade decision still pending for it, and the
        // connection task waiting on that decision, can go (about 4 KiB per idle stream).
        let operations = context.pipeline.syncOperations
        if let upgrader = try? operations.handler(
            type: NIOTypedHTTPServerUpgradeHandler<HTTP1WebSocketUpgradeChannel.UpgradeResult>.self
        ) {
            operations.removeHandler(upgrader, promise: nil)
        }
        return .some(stream)
    }

    private func finishPublish(_ publishing: Publishing, context: ChannelHandlerContext) {
        if let refusal = publishing.refusal {
            answer(.failure(refusal), to: publishing, context: context)
            return
        }
        if publishing.tooLarge {
            answer(
                .failure(GatewayError.payloadTooLarge(limit: limits.maxRequestBodyBytes)), to: publishing,
                closeAfter: true, context: context)
            return
        }
        // The message goes from the publish as it is: a copy would retain each of its parts again, some of them
        // (the plan's attributes) shared by every connection on every loop.
        if let publishTrace { publishSpan = publishTrace.publishing(&publishing.message) }
        switch publishing.endpoint {
        case .synchronous(let endpoint):
            answer(Result { _ = try endpoint.publishNow(publishing.message) }, to: publishing, context: context)
        case .callback(let endpoint):
            awaitPublish(publishing, context: context) { endpoint.publish(publishing.message, completion: $0) }
        case .task(let endpoint):
            let message = publishing.message
            awaitPublish(publishing, context: context) { completion in
                // Unstructured: the loop cannot wait; the task ends with the publish.
                Task { @Sendable in
                    do {
                        _ = try await endpoint.publish(message)
                        completion(.success(()))
                    } catch {
                        completion(.failure(error))
                    }
                }
            }
        }
    }

    /// Starts a publish whose outcome comes later, and answers the client once it does.
    private func awaitPublish(
        _ publishing: Publishing, context: ChannelHandlerContext,
        start: (@escaping @Sendable (Result<Void, any Error>) -> Void) -> Void
    ) {
        state = .awaitingPublish(stash: [])
        // The answer may come on another thread, or on this one before `start` returns; an endpoint answers many
        // publishes at once, so they share the loop's wake-ups.
        let batch = loopBatch ?? LoopTaskBatch.of(context.eventLoop)
        loopBatch = batch
        publishing.awaiting = (self, context, batch)
        start { [publishing] result in
            publishing.outcome = result
            publishing.awaiting?.batch.execute { [publishing] in
                guard let (handler, context, _) = publishing.awaiting.take() else { return }
                handler.publishEnded(publishing.outcome, publishing, context: context)
            }
        }
    }

    /// The endpoint answered: the client gets its answer, then the requests read meanwhile are served.
    private func publishEnded(
        _ result: Result<Void, any Error>, _ publishing: Publishing, context: ChannelHandlerContext
    ) {
        guard case .awaitingPublish(let stash) = state else { return }  // the connection has gone
        state = .idle
        answer(result, to: publishing, context: context)
        guard context.channel.isActive, !(publishing.closeAfter || quiescing), !stash.isEmpty else { return }
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        for part in stash { channelRead(context: context, data: wrapInboundOut(part)) }
        // The handlers after this one (the async side) take what was passed on at the end of a read.
        channelReadComplete(context: context)
    }

    /// Writes the answer to a publish: 202, or the endpoint's error with its status and key.
    private func answer(
        _ result: Result<Void, any Error>, to publishing: Publishing, closeAfter: Bool = false,
        context: ChannelHandlerContext
    ) {
        let closeAfter = closeAfter || publishing.closeAfter || quiescing
        if var observed = publishObserved.take(), let observation = publishObservation.take() {
            observePublish(result, publishing, &observed, observation: observation)
        }
        if let trace = publishTrace.take() { endTrace(trace, result) }
        // Through the connection's response encoder, as every answer: it pairs each answer's head with its
        // request's method (a HEAD's answer has no body), and an answer written past it would leave that pairing
        // one behind for the rest of the connection, and its list of methods growing.
        //
        // Made as one list, with room for the framing headers (allocated once; adding headers one by one would
        // also check each name, which are the gateway's own here).
        var fields: [(String, String)] = []
        fields.reserveCapacity(publishing.rateLimitHeaders.count + 5)
        fields.append((ClientIdentifier.name, publishing.clientIdentifier))
        for header in publishing.rateLimitHeaders { fields.append((header.name, header.value)) }
        let echo = HTTPHeaders(fields)
        switch result {
        case .success:
            context.writeWholeResponse(
                status: .accepted, body: nil, version: publishing.version, closeAfter: closeAfter, headers: echo)
        case .failure(let error):
            let failure =
                error as? GatewayError ?? .endpointUnavailable("The endpoint could not accept the message.")
            context.writeGatewayError(failure, version: publishing.version, closeAfter: closeAfter, headers: echo)
        }
    }

    /// Ends a publish's spans with its outcome.
    private func endTrace(_ trace: GatewayRequestTrace, _ result: Result<Void, any Error>) {
        switch result {
        case .success:
            publishSpan.take()?.end(error: nil)
            trace.end(status: 202, error: nil)
        case .failure(let error):
            let failure = error as? GatewayError
            publishSpan.take()?.end(error: failure?.key ?? "\(error)")
            trace.end(status: failure?.status ?? 503, error: failure?.key ?? "\(error)")
        }
    }

    /// Counts a publish's answer: its status, and the message taken or refused.
    private func observePublish(
        _ result: Result<Void, any Error>, _ publishing: Publishing, _ observed: inout ObservedRequest,
        observation: DeploymentObservation
    ) {
        let size = publishing.message.content.readableBytes
        observed.bytesIn = size
        switch result {
        case .success:
            observed.status = 202
            observed.messagesIn = 1
            if let series = observed.series {
                series.messagesIn.increment()
                if size > 0 { series.messageBytesIn.increment(by: Int64(size)) }
            }
            if let log = observation.messageLog, log.publishPhase, let accessLog = observed.accessLog, log.sample() {
                lines(of: accessLog).append(
                    RequestMessageObserver.entry(
                        publishing.message, direction: "publish", log: log, api: observation.api,
                        planID: observed.planID,
                        application: observed.application,
                        entrypoint: HTTPPostEntrypoint.type, secretHeaders: observation.secretHeaders))
            }
        case .failure(let error):
            observed.status = (error as? GatewayError)?.status ?? 503
            observed.messagesIn = 0
            // A refusal (rate limit, size) is not the endpoint's error.
            if publishing.refusal == nil, !publishing.tooLarge { observed.series?.messageErrors.increment() }
        }
        finish(observed)
    }

    /// A proxied exchange has ended (answered, failed, or its client gone).
    private func finishProxyObservation(_ exchange: EventLoopProxyExchange) {
        if let trace = proxyTrace.take() { endTrace(trace, exchange) }
        guard var observed = proxyObserved else { return }
        proxyObserved = nil
        observed.status = exchange.responseStatus == 0 ? 499 : exchange.responseStatus
        observed.bytesIn = exchange.requestBodyBytes
        observed.bytesOut = exchange.responseBodyBytes
        finish(observed)
    }

    /// Ends a proxied exchange's spans with its outcome: the backend's answer relayed, the gateway's error in its
    /// place, an answer cut short, or the client gone.
    private func endTrace(_ trace: ProxyRequestTrace, _ exchange: EventLoopProxyExchange) {
        if exchange.backendStatus > 0 { trace.attemptAnswered(status: exchange.backendStatus) }
        let failure = exchange.failure?.key
        if exchange.responseStatus > 0 {
            // Before the backend's head, a failure is the gateway's answer.
            trace.answered(status: exchange.responseStatus, error: exchange.backendStatus > 0 ? nil : failure)
        }
        if exchange.clientLeft {
            trace.end(error: ProxyRequestTrace.clientLeft)
        } else {
            trace.attemptEnded(error: failure)
            trace.end(error: exchange.backendStatus > 0 ? failure : nil)
        }
    }

    /// The path of the request target, without its query.
    static func path(of target: String) -> String {
        if let query = target.utf8.firstIndex(of: UInt8(ascii: "?")) { return String(target[..<query]) }
        return target
    }

    /// A request's API, found once for all the ways this handler serves requests.
    struct Routed {
        var route: RoutingTable.Route
        /// The request target's path, without its query.
        var path: String
        var authority: String?
    }

    func route(_ head: HTTPRequestHead) -> Routed? {
        let authority = head.headers.first(name: "host")
        // A connection's requests mostly go to one target: the latest one's route serves again while neither the
        // target nor the routing table changed, without the registry's lock or a walk over the routes.
        let generation = registry.routingGeneration
        if let latest = latestRoute, latest.generation == generation, latest.uri == head.uri,
            latest.authority == authority
        {
            return latest.routed
        }
        let path = Self.path(of: head.uri)
        let routed = registry.table.match(host: authority, path: path).map {
            Routed(route: $0, path: path, authority: authority)
        }
        latestRoute = (head.uri, authority, generation, routed)
        return routed
    }
}
