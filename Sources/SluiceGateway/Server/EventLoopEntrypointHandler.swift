import HTTPTypes
import NIOCore
import NIOHTTPTypes
import SluiceCore
import SluiceEntrypoints
import Foundation

/// Serves, right on the connection's event loop, the requests that never need to wait on anything: a POST to an
/// `http-post` entrypoint whose endpoint takes messages at once (the embedded log, the mock). Every other request
/// passes on, in order, to the gateway's async responder.
///
/// This is the gateway's hottest path, and serving it here spares each request the hand-off to a Swift task and
/// back. Requests are answered in the order they came: once one is passed on, the ones after it are passed on
/// too until its response has ended.
final class EventLoopEntrypointHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private struct Publishing {
        var entrypoint: HTTPPostEntrypoint
        var endpoint: any SynchronousPublishing
        var message: Message
        var body: ByteBuffer?
        var tooLarge = false
        var closeAfter: Bool
    }

    private enum State {
        case idle
        case publishing(Publishing)
        /// An SSE stream holds the connection until it ends; anything the client sends meanwhile is dropped.
        case streaming(EventLoopSSEStream)
        /// Request parts are being passed on until this request's end.
        case passingRequest
    }

    private let registry: DeploymentRegistry
    private let limits: GatewayLimits
    private var state = State.idle
    /// Requests passed on whose response has not ended yet.
    private var responsesPending = 0
    private var quiescing = false

    init(registry: DeploymentRegistry, limits: GatewayLimits) {
        self.registry = registry
        self.limits = limits
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.idle, .head(let head)):
            if responsesPending == 0, let publishing = takePublish(head) {
                state = .publishing(publishing)
            } else if responsesPending == 0, let taken = takeStream(head, context: context) {
                if let stream = taken { state = .streaming(stream) }
            } else {
                state = .passingRequest
                responsesPending += 1
                context.fireChannelRead(data)
            }
        case (.publishing(var publishing), .body(var chunk)):
            guard !publishing.tooLarge else { return }
            let size = (publishing.body?.readableBytes ?? 0) + chunk.readableBytes
            if size > limits.maxRequestBodyBytes {
                publishing.tooLarge = true
                publishing.body = nil
            } else if publishing.body == nil {
                publishing.body = chunk
            } else {
                publishing.body!.writeBuffer(&chunk)
            }
            state = .publishing(publishing)
        case (.publishing(let publishing), .end):
            state = .idle
            finishPublish(publishing, context: context)
        case (.passingRequest, .end):
            state = .idle
            context.fireChannelRead(data)
        case (.passingRequest, _), (.idle, _):
            context.fireChannelRead(data)
        case (.streaming, _):
            break
        case (.publishing, .head):
            // A head inside a request cannot come from the HTTP decoder; pass it on for the async side to refuse.
            state = .passingRequest
            responsesPending += 1
            context.fireChannelRead(data)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .streaming(let stream) = state, context.channel.isWritable { stream.pump() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .streaming(let stream) = state { stream.cleanUp() }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if case .streaming(let stream) = state { stream.cleanUp() }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), responsesPending > 0 { responsesPending -= 1 }
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, case .publishing = state {
            // Finish the publish in progress first; the connection closes after its answer.
            quiescing = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The publish this request is, if it is one this handler serves.
    private func takePublish(_ head: HTTPRequest) -> Publishing? {
        guard head.method == .post,
            let deployment = registry.table.route(host: head.authority, path: Self.path(of: head)),
            let post = deployment.httpPost,
            let endpoint = deployment.synchronousPublisher,
            case .success = deployment.security.resolve()
        else { return nil }
        var message = Message(content: ByteBuffer(), timestamp: Date.nowMilliseconds)
        if post.entrypoint.configuration.requestHeadersToMessage {
            for field in head.headerFields where !HTTPPostEntrypoint.hopHeaders.contains(field.name) {
                message.headers.add(name: field.name.rawName, value: field.value)
            }
        }
        let closeAfter = head.headerFields[.connection]?.lowercased().contains("close") ?? false
        return Publishing(entrypoint: post.entrypoint, endpoint: endpoint, message: message, closeAfter: closeAfter)
    }

    /// Takes an SSE request on an API whose endpoint is the embedded log. Returns nil when the request is not
    /// one this handler serves; `.some(nil)` when it answered it with an error; `.some(stream)` when streaming.
    private func takeStream(_ head: HTTPRequest, context: ChannelHandlerContext) -> EventLoopSSEStream?? {
        guard head.method == .get, SSEEntrypoint.matches(head),
            let deployment = registry.table.route(host: head.authority, path: Self.path(of: head)),
            let sse = deployment.sse,
            let endpoint = deployment.inMemoryEndpoint,
            let cache = deployment.sseBatchCache,
            case .success = deployment.security.resolve()
        else { return nil }
        var lastEventID = head.headerFields[HTTPField.Name("Last-Event-ID")!]
        if lastEventID?.isEmpty == true || sse.invocation.qos == .none { lastEventID = nil }
        let offset: Int64
        do {
            offset = try endpoint.startOffset(resumeAfter: lastEventID)
        } catch let error as GatewayError {
            respond(error, closeAfter: false, context: context)
            return .some(nil)
        } catch {
            return nil
        }
        let stream = EventLoopSSEStream(
            topic: endpoint.inMemoryTopic, offset: offset, configuration: sse.entrypoint.configuration,
            cache: cache, context: context
        )
        let loopBound = NIOLoopBound(stream, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        guard let registration = deployment.streams.register(end: { _ in
            eventLoop.execute { loopBound.value.end(goaway: true) }
        }) else {
            respond(.tooManyConnections(limit: limits.maxStreamingConnections), closeAfter: false, context: context)
            return .some(nil)
        }
        stream.start(registration: registration)
        return .some(stream)
    }

    /// Writes `error` as a whole JSON response.
    private func respond(_ error: GatewayError, closeAfter: Bool, context: ChannelHandlerContext) {
        let json = ByteBuffer(string: error.jsonBody)
        var head = HTTPResponse(
            status: .init(code: error.status),
            headerFields: [.contentType: "application/json", .contentLength: String(json.readableBytes)]
        )
        if closeAfter { head.headerFields[.connection] = "close" }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(json)), promise: nil)
        if closeAfter {
            let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                boundContext.value.close(promise: nil)
            }
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    private func finishPublish(_ publishing: Publishing, context: ChannelHandlerContext) {
        var closeAfter = publishing.closeAfter || quiescing
        let failure: GatewayError?
        if publishing.tooLarge {
            failure = .payloadTooLarge(limit: limits.maxRequestBodyBytes)
            closeAfter = true
        } else {
            var message = publishing.message
            message.content = publishing.body ?? ByteBuffer()
            do {
                _ = try publishing.endpoint.publishNow(message)
                failure = nil
            } catch let error as GatewayError {
                failure = error
            } catch {
                failure = .endpointUnavailable("The endpoint could not accept the message.")
            }
        }
        var head: HTTPResponse
        var body: ByteBuffer?
        if let failure {
            let json = ByteBuffer(string: failure.jsonBody)
            head = HTTPResponse(
                status: .init(code: failure.status),
                headerFields: [.contentType: "application/json", .contentLength: String(json.readableBytes)]
            )
            body = json
        } else {
            head = HTTPResponse(status: .accepted, headerFields: [.contentLength: "0"])
        }
        if closeAfter { head.headerFields[.connection] = "close" }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body { context.write(wrapOutboundOut(.body(body)), promise: nil) }
        if closeAfter {
            let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                boundContext.value.close(promise: nil)
            }
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    /// The path of the request target, without its query.
    static func path(of head: HTTPRequest) -> String {
        guard let target = head.path else { return "/" }
        if let query = target.firstIndex(of: "?") { return String(target[..<query]) }
        return target
    }
}
