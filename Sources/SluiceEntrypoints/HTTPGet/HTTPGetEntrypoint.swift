import Foundation
public import HTTPTypes
public import HummingbirdCore
import NIOCore
public import SluiceCore

/// The `http-get` entrypoint: a poll. The client gets up to `limit` messages after its `cursor`, waiting at most
/// `messagesLimitDurationMs` for them, as JSON, XML or plain text.
public struct HTTPGetEntrypoint: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Default: 500.
        public var messagesLimitCount: Int = 500
        /// Default: 5000 ms.
        public var messagesLimitDurationMs: Int64 = 5000
        /// Default: false.
        public var headersInPayload = false
        /// Default: false.
        public var metadataInPayload = false

        public init() {}

        public static func parse(
            _ object: JSONObject, at path: JSONPath, diagnostics: inout DiagnosticCollector
        ) -> Configuration {
            let reader = ConfigurationReader(object, at: path)
            reader.warnUnknown(
                ["messagesLimitCount", "messagesLimitDurationMs", "headersInPayload", "metadataInPayload"], &diagnostics
            )
            var configuration = Configuration()
            if let count = reader.integer("messagesLimitCount", &diagnostics, minimum: 1, maximum: 1_000_000) {
                configuration.messagesLimitCount = Int(count)
            }
            if let duration = reader.integer("messagesLimitDurationMs", &diagnostics, minimum: 1, maximum: 3_600_000) {
                configuration.messagesLimitDurationMs = duration
            }
            configuration.headersInPayload = reader.bool("headersInPayload", &diagnostics) ?? false
            configuration.metadataInPayload = reader.bool("metadataInPayload", &diagnostics) ?? false
            return configuration
        }
    }

    public static let type = "http-get"
    public static let supportedQoS: Set<MessageQoS> = [.auto, .atMostOnce, .atLeastOnce]

    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public func handle(
        _ request: Request, writer: consuming ResponseWriter, invocation: EntrypointInvocation
    ) async throws {
        let format: PollResponseFormat
        switch PollResponseFormat.negotiate(acceptValues: request.headers[values: .accept]) {
        case .success(let chosen): format = chosen
        case .failure(let error):
            try await error.write(to: writer, headers: invocation.headers())
            return
        }
        var limit = min(configuration.messagesLimitCount, invocation.limits.maxPollMessages)
        let limitText = request.queryValue("limit").flatMap { $0.isEmpty ? nil : $0 }
        if let limitText {
            guard let requested = Int(limitText), requested >= 0 else {
                try await GatewayError(
                    status: 400, key: "INVALID_LIMIT",
                    message: "The limit '\(limitText)' must be a non-negative integer."
                ).write(to: writer, headers: invocation.headers())
                return
            }
            limit = min(limit, requested)
        }
        let cursor = request.queryValue("cursor").flatMap { $0.isEmpty ? nil : $0 }
        let clientIdentifier = ClientIdentifier.resolve(request).value
        let echo = invocation.headers([ClientIdentifier.field: clientIdentifier])
        let source: any MessageSource
        do {
            source = try await invocation.endpoint.subscribe(
                SubscriptionRequest(
                    resumeAfter: cursor, clientIdentifier: clientIdentifier, qos: invocation.qos, mode: .poll,
                    attributes: invocation.flow?.endpointAttributes ?? [:])
            )
        } catch let error as GatewayError {
            try await error.write(to: writer, headers: echo)
            return
        }
        defer { source.close() }
        let (messages, failure) = try await Self.collect(
            from: source, limit: limit, within: .milliseconds(configuration.messagesLimitDurationMs)
        )
        // A failure with nothing read is the answer; with messages read, they go out and the next poll sees it.
        if let failure, messages.isEmpty {
            try await failure.write(to: writer, headers: echo)
            return
        }
        let nextCursor = messages.last?.id ?? source.currentCursor ?? cursor
        var delivered = messages
        if let flow = invocation.flow, flow.runs(.subscribe) {
            // The subscribe phase, message by message: dropped messages are left out (the cursor still moves past
            // them); a failing step is the answer.
            delivered = []
            for message in messages {
                switch await flow.process(message, in: .subscribe) {
                case .deliver(let processed): delivered.append(processed)
                case .drop:
                    invocation.observer?.filtered()
                    continue
                case .fail(let error):
                    try await error.write(to: writer, headers: echo)
                    return
                }
            }
        }
        let body = format.render(
            messages: delivered, nextCursor: nextCursor, limit: limitText,
            headers: configuration.headersInPayload, metadata: configuration.metadataInPayload
        )
        let spans = invocation.trace.map { trace in delivered.map { trace.delivering($0) } } ?? []
        var head = HTTPResponse(status: .ok)
        head.headerFields[.contentType] = format.contentType
        head.headerFields[.contentLength] = String(body.readableBytes)
        head.headerFields[ClientIdentifier.field] = clientIdentifier
        head.headerFields.append(contentsOf: invocation.responseHeaders)
        // Counted before the answer goes: its access log line is written when its last byte is.
        if let observer = invocation.observer { for message in delivered { observer.delivered(message) } }
        do {
            try await writer.write(response: head, body: ResponseBody(byteBuffer: body))
        } catch {
            spans.end(error: "client gone")
            throw error
        }
        spans.end(error: nil)
        await source.delivered()
    }

    /// Pulls up to `limit` messages, returning early with what it has when `duration` has passed, or when the
    /// endpoint fails (with the failure).
    static func collect(
        from source: any MessageSource, limit: Int, within duration: Duration
    ) async throws -> ([Message], GatewayError?) {
        let deadline = ContinuousClock.now + duration
        var collected: [Message] = []
        while collected.count < limit {
            do {
                switch try await source.next(maxCount: limit - collected.count, until: deadline) {
                case .messages(let batch): collected.append(contentsOf: batch)
                case .timedOut, .ended: return (collected, nil)
                }
            } catch let error as GatewayError {
                return (collected, error)
            }
        }
        return (collected, nil)
    }
}
