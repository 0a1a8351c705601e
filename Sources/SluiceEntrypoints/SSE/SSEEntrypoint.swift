import Foundation
public import HTTPTypes
public import HummingbirdCore
public import NIOCore
public import SluiceCore
import SluiceEndpoints
import Synchronization

/// The `sse` entrypoint: a `text/event-stream` of the endpoint's messages, with heartbeats while idle, resume
/// from `Last-Event-ID`, and `event: goaway` when the gateway drains.
public struct SSEEntrypoint: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// A heartbeat comment is sent after this much silence. Default: 5000 ms.
        public var heartbeatIntervalInMs: Int64 = 5000
        /// Default: false.
        public var metadataAsComment = false
        /// Default: false.
        public var headersAsComment = false

        public init() {}

        public static func parse(
            _ object: JSONObject, at path: JSONPath, diagnostics: inout DiagnosticCollector
        ) -> Configuration {
            let reader = ConfigurationReader(object, at: path)
            reader.warnUnknown(["heartbeatIntervalInMs", "metadataAsComment", "headersAsComment"], &diagnostics)
            var configuration = Configuration()
            if let interval = reader.integer("heartbeatIntervalInMs", &diagnostics, minimum: 1, maximum: 3_600_000) {
                configuration.heartbeatIntervalInMs = interval
            }
            configuration.metadataAsComment = reader.bool("metadataAsComment", &diagnostics) ?? false
            configuration.headersAsComment = reader.bool("headersAsComment", &diagnostics) ?? false
            return configuration
        }
    }

    public static let type = "sse"
    public static let supportedQoS: Set<MessageQoS> = [.none, .auto, .atMostOnce, .atLeastOnce]
    /// Messages written to the socket in one go, at most.
    static let batchSize = 256

    public let configuration: Configuration
    package let formatter: ServerSentEventWriter
    /// Events of the ring-backed streams of this API (the embedded log's too), encoded once for all of them.
    package let batches: RingBatchCache

    public init(configuration: Configuration) {
        self.configuration = configuration
        self.formatter = ServerSentEventWriter(
            headersAsComment: configuration.headersAsComment, metadataAsComment: configuration.metadataAsComment)
        self.batches = .serverSentEvents(formatter)
    }

    /// True for a GET whose `Accept` lists `text/event-stream`.
    public static func matches(_ request: HTTPRequest) -> Bool {
        guard request.method == .get else { return false }
        return request.headerFields[values: .accept].contains { $0.lowercased().contains("text/event-stream") }
    }

    /// Subscribers served from a ring by their connection's event loop now, gateway-wide (which path they took,
    /// for tests and diagnostics).
    package static var ringStreamsActive: Int { SSERingStream.active.load(ordering: .relaxed) }

    /// Serves one stream. `whenClientLeaves` registers an action to run when the client's connection closes, so
    /// the stream's endpoint subscription ends at once rather than at the next write. With the connection's
    /// `channel`, a source backed by a ring (a shared tail, the embedded log) is served by the connection's event
    /// loop, with events shared by the API's streams (see ``SSERingStream``), until it ends or leaves the ring.
    public func handle(
        _ request: Request, writer: consuming ResponseWriter, invocation: EntrypointInvocation,
        channel: (any Channel)? = nil,
        whenClientLeaves: (@escaping @Sendable () -> Void) -> Void = { _ in }
    ) async throws {
        let lastEventID = request.headers[HTTPField.Name("Last-Event-ID")!].flatMap { $0.isEmpty ? nil : $0 }
        let resumeAfter = invocation.qos == .none ? nil : lastEventID
        let (clientIdentifier, generated) = ClientIdentifier.resolve(request)
        let source: any MessageSource
        do {
            source = try await invocation.endpoint.subscribe(
                SubscriptionRequest(
                    resumeAfter: resumeAfter, clientIdentifier: clientIdentifier,
                    clientIdentifierIsGenerated: generated, qos: invocation.qos, mode: .stream,
                    attributes: invocation.flow?.endpointAttributes ?? [:])
            )
        } catch let error as GatewayError {
            try await error.write(to: writer, headers: invocation.headers([ClientIdentifier.field: clientIdentifier]))
            return
        }
        defer { source.close() }
        // Stops an event-loop stream, which does not wait on the source.
        let stopper = SSERingStream.Stopper()
        whenClientLeaves {
            source.close()
            stopper.stop()
        }
        // Ending the stream (drain, API removed, access ended) closes the source, which ends the loop below at once.
        let ending = Mutex<StreamEnding?>(nil)
        guard
            let registration = invocation.streams.register(
                grant: invocation.grant,
                end: { reason in
                    ending.withLock { $0 = reason }
                    source.close()
                    stopper.stop()
                })
        else {
            try await GatewayError.tooManyConnections(limit: invocation.limits.maxStreamingConnections).write(
                to: writer, headers: invocation.headers())
            return
        }
        defer { registration.cancel() }

        var head = HTTPResponse(status: .ok)
        head.headerFields[.contentType] = "text/event-stream;charset=UTF-8"
        head.headerFields[.connection] = "keep-alive"
        head.headerFields[.cacheControl] = "no-cache"
        head.headerFields[HTTPField.Name("X-Accel-Buffering")!] = "no"
        head.headerFields[ClientIdentifier.field] = clientIdentifier
        head.headerFields.append(contentsOf: invocation.responseHeaders)
        var body = try await writer.writeHead(head)

        let formatter = ServerSentEventWriter(
            headersAsComment: configuration.headersAsComment, metadataAsComment: configuration.metadataAsComment
        )
        let heartbeat = Duration.milliseconds(configuration.heartbeatIntervalInMs)
        var buffer = ByteBuffer()
        // Clients reconnect after a random 1–30 s so that a gateway restart does not bring them all back at once.
        formatter.retry(milliseconds: Int.random(in: 1000..<30_000), into: &buffer)
        try await body.write(buffer)
        var lastWrite = ContinuousClock.now

        var servedFromRing = false
        // Per-message steps (a filter per subscriber) rule out events encoded once for all the API's streams.
        let flow = invocation.flow.flatMap { $0.runs(.subscribe) ? $0 : nil }
        // QoS `none` and `auto` only: the task path reports deliveries of the others message by message; so it
        // does when the API logs the messages it sends, and for traced streams (each delivery is a span of its own).
        if flow == nil, invocation.observer?.logsEachDelivery != true, invocation.trace == nil, let channel,
            invocation.qos == .none || invocation.qos == .auto,
            let ringSource = source as? any RingBackedSource
        {
            do {
                servedFromRing =
                    try await SSERingStream.serve(
                        ringSource, on: channel, cache: batches, formatter: formatter, heartbeat: heartbeat,
                        stopper: stopper, observer: invocation.observer) == .closed
            } catch let error as GatewayError {
                buffer.clear()
                formatter.error(id: UUID().uuidString, message: error.message, into: &buffer)
                try await body.write(buffer)
                servedFromRing = true
            }
            lastWrite = ContinuousClock.now
        }

        // One loop per stream, no task of its own: it waits on the endpoint until a message comes or a heartbeat
        // is due, and the write waits for the socket, so a slow client holds back only its own reader.
        streaming: while !servedFromRing {
            let poll: MessagePoll
            do {
                poll = try await source.next(maxCount: Self.batchSize, until: lastWrite + heartbeat)
            } catch let error as GatewayError {
                buffer.clear()
                formatter.error(id: UUID().uuidString, message: error.message, into: &buffer)
                try await body.write(buffer)
                break streaming
            }
            buffer.clear()
            var carriesMessages = false
            var written: [Message] = []
            var spans: [any MessageSpan] = []
            switch poll {
            case .messages(let messages):
                for message in messages {
                    guard let flow else {
                        if let trace = invocation.trace { spans.append(trace.delivering(message)) }
                        formatter.message(message, into: &buffer)
                        if invocation.observer != nil { written.append(message) }
                        continue
                    }
                    switch await flow.process(message, in: .subscribe) {
                    case .deliver(let processed):
                        if let trace = invocation.trace { spans.append(trace.delivering(processed)) }
                        formatter.message(processed, into: &buffer)
                        if invocation.observer != nil { written.append(processed) }
                    case .drop:
                        invocation.observer?.filtered()
                        continue
                    case .fail(let error):
                        formatter.error(id: UUID().uuidString, message: "\(error.key): \(error.message)", into: &buffer)
                        spans.end(error: error.key)
                        try await body.write(buffer)
                        break streaming
                    }
                }
                carriesMessages = true
            case .timedOut:
                guard ContinuousClock.now - lastWrite >= heartbeat else { continue }
                formatter.heartbeat(into: &buffer)
            case .ended:
                break streaming
            }
            do {
                try await body.write(buffer)
            } catch {
                spans.end(error: "client gone")
                throw error
            }
            spans.end(error: nil)
            lastWrite = ContinuousClock.now
            if let observer = invocation.observer { for message in written { observer.delivered(message) } }
            if carriesMessages { await source.delivered() }
        }
        if let reason = ending.withLock({ $0 }) {
            buffer.clear()
            if case .accessEnded = reason {
                formatter.error(id: UUID().uuidString, message: reason.reason, into: &buffer)
            } else {
                formatter.goaway(into: &buffer)
            }
            try? await body.write(buffer)
        }
        try await body.finish(nil)
    }
}
