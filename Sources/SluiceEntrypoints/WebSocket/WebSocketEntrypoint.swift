import Foundation
public import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
public import SluiceCore
import SluiceEndpoints

/// The `websocket` entrypoint: each frame in is a message published to the endpoint (publisher), each message
/// out is a frame (subscriber): text when the content is valid UTF-8, binary otherwise.
public struct WebSocketEntrypoint: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Default: true.
        public var publisherEnabled = true
        /// Default: true.
        public var subscriberEnabled = true

        public init() {}

        public static func parse(
            _ object: JSONObject, at path: JSONPath, diagnostics: inout DiagnosticCollector
        ) -> Configuration {
            let reader = ConfigurationReader(object, at: path)
            reader.warnUnknown(["publisher", "subscriber"], &diagnostics)
            var configuration = Configuration()
            let publisher = reader.object("publisher", &diagnostics)
            publisher.warnUnknown(["enabled"], &diagnostics)
            configuration.publisherEnabled = publisher.bool("enabled", &diagnostics) ?? true
            let subscriber = reader.object("subscriber", &diagnostics)
            subscriber.warnUnknown(["enabled"], &diagnostics)
            configuration.subscriberEnabled = subscriber.bool("enabled", &diagnostics) ?? true
            if !configuration.publisherEnabled && !configuration.subscriberEnabled {
                diagnostics.error(path, "at least one of publisher and subscriber must be enabled")
            }
            return configuration
        }
    }

    public static let type = "websocket"
    public static let supportedQoS: Set<MessageQoS> = [.none, .auto]
    static let batchSize = 256

    public let configuration: Configuration
    /// Frames of the ring-backed streams of this API, encoded once for all of them.
    let batches = RingBatchCache.webSocketFrames()

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Serves one upgraded connection until either side closes it. The subscriber side runs when it is enabled and
    /// the endpoint subscribes, the publisher side when it is enabled and the endpoint publishes. `publishCheck`
    /// runs before each message the client publishes (the publish phase's rate limits): a refusal closes the
    /// connection with 1008 and `KEY: message`, and that message is not published. `traceContext` is the
    /// upgrade request's own (`traceparent` and `tracestate` headers, validated): each published message carries
    /// it, or, when the gateway traces, its producer span's.
    public func handle(
        inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter,
        invocation: EntrypointInvocation,
        registration: StreamRegistration,
        clientIdentifier: String? = nil,
        clientIdentifierIsGenerated: Bool = false,
        channel: (any Channel)? = nil,
        publishCheck: (@Sendable () async -> GatewayError?)? = nil,
        traceContext: MessageHeaders = MessageHeaders()
    ) async throws {
        defer { registration.cancel() }
        let endpoint = invocation.endpoint
        let source: (any MessageSource)?
        if configuration.subscriberEnabled && endpoint.canSubscribe {
            do {
                source = try await endpoint.subscribe(
                    SubscriptionRequest(
                        clientIdentifier: clientIdentifier, clientIdentifierIsGenerated: clientIdentifierIsGenerated,
                        qos: invocation.qos, mode: .stream, attributes: invocation.flow?.endpointAttributes ?? [:]))
            } catch let error as GatewayError {
                try await outbound.close(
                    .unexpectedServerError, reason: Self.closeReason("\(error.key): \(error.message)"))
                return
            }
        } else {
            source = nil
        }
        defer { source?.close() }
        let publisherEnabled = configuration.publisherEnabled && endpoint.canPublish
        let maxMessageBytes = invocation.limits.maxMessageBytes
        let logger = invocation.logger

        let batches = self.batches
        let flow = invocation.flow
        // Per-message subscribe steps (a filter per subscriber), logging the messages sent, or tracing each delivery
        // rule out frames encoded once for all the API's streams.
        let subscribeFlow = flow.flatMap { $0.runs(.subscribe) ? $0 : nil }
        let publishFlow = flow.flatMap { $0.runs(.publish) ? $0 : nil }
        let observer = invocation.observer
        let sharesFrames = subscribeFlow == nil && observer?.logsEachDelivery != true && invocation.trace == nil
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let source {
                group.addTask {
                    do {
                        // A source backed by a ring (a shared tail, the embedded log) is served by the connection's
                        // event loop, with frames shared by the API's streams, until it ends or leaves the ring.
                        if sharesFrames, let channel, let ringSource = source as? any RingBackedSource,
                            try await WebSocketRingStream.serve(
                                ringSource, on: channel, cache: batches, observer: observer) == .closed
                        {
                            return
                        }
                        while true {
                            var batch = try await source.next(maxCount: Self.batchSize)
                            if batch.isEmpty { break }
                            if let subscribeFlow {
                                var kept: [Message] = []
                                for message in batch {
                                    switch await subscribeFlow.process(message, in: .subscribe) {
                                    case .deliver(let processed): kept.append(processed)
                                    case .drop:
                                        observer?.filtered()
                                        continue
                                    case .fail(let error): throw error
                                    }
                                }
                                batch = kept
                            }
                            // Text when the content is UTF-8, binary otherwise; each frame carries the message's
                            // own buffer (no copy).
                            let frames = batch.map { message in
                                WebSocketFrame(
                                    fin: true,
                                    opcode: String(validating: message.content.readableBytesView, as: UTF8.self) != nil
                                        ? .text : .binary,
                                    data: message.content)
                            }
                            let spans = invocation.trace.map { trace in batch.map { trace.delivering($0) } } ?? []
                            do {
                                if let channel {
                                    try await Self.write(frames, to: channel)
                                } else {
                                    for frame in frames { try await outbound.write(.custom(frame)) }
                                }
                            } catch {
                                spans.end(error: "client gone")
                                throw error
                            }
                            spans.end(error: nil)
                            if let observer { for message in batch { observer.delivered(message) } }
                            await source.delivered()
                        }
                        // The endpoint has no more messages (a finite mock, say): a normal goodbye.
                        try await outbound.close(.normalClosure, reason: "Bye")
                    } catch is CancellationError {
                    } catch let error as GatewayError {
                        try? await outbound.close(
                            .unexpectedServerError, reason: Self.closeReason("\(error.key): \(error.message)"))
                    }
                }
            }
            // Reading inbound continues until the client closes (or the close handshake ends), even with the
            // publisher disabled: frames are then read and dropped, which keeps ping/pong and close working.
            reading: for try await frame in inbound.messages(maxSize: maxMessageBytes) {
                guard publisherEnabled else { continue }
                let content: ByteBuffer
                switch frame {
                case .text(let text): content = ByteBuffer(string: text)
                case .binary(let buffer): content = buffer
                }
                if let publishCheck, let refusal = await publishCheck() {
                    try await outbound.close(
                        .policyViolation, reason: Self.closeReason("\(refusal.key): \(refusal.message)"))
                    break
                }
                var message = Message(content: content, headers: traceContext, timestamp: Date.nowMilliseconds)
                if let publishFlow {
                    switch await publishFlow.process(message, in: .publish) {
                    case .deliver(let processed): message = processed
                    case .drop:
                        observer?.filtered()
                        continue
                    case .fail(let error):
                        try await outbound.close(
                            .policyViolation, reason: Self.closeReason("\(error.key): \(error.message)"))
                        break reading
                    }
                }
                let span = invocation.trace?.publishing(&message)
                do {
                    _ = try await endpoint.publish(message)
                    span?.end(error: nil)
                    observer?.published(message)
                } catch let error as GatewayError {
                    span?.end(error: error.key)
                    observer?.publishFailed(message)
                    try await outbound.close(
                        .unexpectedServerError, reason: Self.closeReason("\(error.key): \(error.message)"))
                    break
                } catch {
                    span?.end(error: "\(error)")
                    logger.warning("publish failed", metadata: ["api": "\(invocation.apiID)", "error": "\(error)"])
                    try await outbound.close(.unexpectedServerError, reason: "Server error")
                    break
                }
            }
            group.cancelAll()
        }
    }

    /// Writes a batch of frames on the connection's event loop with one flush, and returns once they are written:
    /// one hop and one system call per batch instead of one per frame through the WebSocket writer. (Close frames
    /// and pongs still go through the writer; a batch is written whole before the stream's close is sent.)
    static func write(_ frames: [WebSocketFrame], to channel: any Channel) async throws {
        guard let last = frames.last else { return }
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.eventLoop.execute {
            for frame in frames.dropLast() { channel.write(frame, promise: nil) }
            channel.writeAndFlush(last, promise: written)
        }
        try await written.futureResult.get()
    }

    /// Subscribers served from a ring by their connection's event loop now, gateway-wide (which path they took,
    /// for tests and diagnostics).
    package static var ringStreamsActive: Int { WebSocketRingStream.active.load(ordering: .relaxed) }

    /// Close reasons are limited to 123 bytes by the protocol.
    public static func closeReason(_ text: String) -> String {
        var reason = ""
        for character in text {
            if reason.utf8.count + String(character).utf8.count > 123 { break }
            reason.append(character)
        }
        return reason
    }
}
