import AsyncAlgorithms
import Foundation
public import HTTPTypes
public import HummingbirdCore
import NIOCore
public import SluiceCore
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

        public static func parse(_ object: JSONObject, at path: JSONPath, diagnostics: inout DiagnosticCollector) -> Configuration {
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

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// True for a GET whose `Accept` lists `text/event-stream`.
    public static func matches(_ request: HTTPRequest) -> Bool {
        guard request.method == .get else { return false }
        return request.headerFields[values: .accept].contains { $0.lowercased().contains("text/event-stream") }
    }

    enum Event: Sendable {
        case messages([Message])
        case failed(String)
        case heartbeatTick
    }

    public func handle(_ request: Request, writer: consuming ResponseWriter, invocation: EntrypointInvocation) async throws {
        let lastEventID = request.headers[HTTPField.Name("Last-Event-ID")!].flatMap { $0.isEmpty ? nil : $0 }
        let resumeAfter = invocation.qos == .none ? nil : lastEventID
        let events = AsyncChannel<Event>()
        let ending = Mutex<StreamEnding?>(nil)
        guard let registration = invocation.streams.register(end: { reason in
            ending.withLock { $0 = reason }
            events.finish()
        }) else {
            try await GatewayError.tooManyConnections(limit: invocation.limits.maxStreamingConnections).write(to: writer)
            return
        }
        defer { registration.cancel() }

        let source: any MessageSource
        do {
            source = try await invocation.endpoint.subscribe(
                SubscriptionRequest(resumeAfter: resumeAfter, clientIdentifier: nil, qos: invocation.qos)
            )
        } catch let error as GatewayError {
            try await error.write(to: writer)
            return
        }
        defer { source.close() }

        var head = HTTPResponse(status: .ok)
        head.headerFields[.contentType] = "text/event-stream;charset=UTF-8"
        head.headerFields[.connection] = "keep-alive"
        head.headerFields[.cacheControl] = "no-cache"
        head.headerFields[HTTPField.Name("X-Accel-Buffering")!] = "no"
        var body = try await writer.writeHead(head)

        let formatter = ServerSentEventWriter(
            headersAsComment: configuration.headersAsComment, metadataAsComment: configuration.metadataAsComment
        )
        let heartbeat = Duration.milliseconds(configuration.heartbeatIntervalInMs)
        let clock = ContinuousClock()

        try await withThrowingTaskGroup(of: Void.self) { group in
            // Reads the endpoint; `send` waits until the writer has taken the previous batch, so a slow client
            // holds the reader back instead of making the gateway buffer for it.
            group.addTask {
                do {
                    while true {
                        let batch = try await source.next(maxCount: Self.batchSize)
                        if batch.isEmpty { break }
                        await events.send(.messages(batch))
                    }
                } catch is CancellationError {
                    return
                } catch let error as GatewayError {
                    await events.send(.failed(error.message))
                } catch {
                    await events.send(.failed("\(error)"))
                }
                events.finish()
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: heartbeat / 2)
                    await events.send(.heartbeatTick)
                }
            }

            var buffer = ByteBuffer()
            // Clients reconnect after a random 1–30 s so that a gateway restart does not bring them all back at once.
            formatter.retry(milliseconds: Int.random(in: 1000..<30_000), into: &buffer)
            try await body.write(buffer)
            var lastWrite = clock.now
            for await event in events {
                buffer.clear()
                switch event {
                case .messages(let messages):
                    for message in messages { formatter.message(message, into: &buffer) }
                case .failed(let reason):
                    formatter.error(id: UUID().uuidString, message: reason, into: &buffer)
                case .heartbeatTick:
                    guard clock.now - lastWrite >= heartbeat else { continue }
                    formatter.heartbeat(into: &buffer)
                }
                try await body.write(buffer)
                lastWrite = clock.now
                if case .failed = event { break }
            }
            group.cancelAll()
            if ending.withLock({ $0 }) != nil {
                buffer.clear()
                formatter.goaway(into: &buffer)
                try? await body.write(buffer)
            }
        }
        try await body.finish(nil)
    }
}
