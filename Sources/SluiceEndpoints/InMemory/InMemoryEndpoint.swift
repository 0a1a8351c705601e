import Foundation
public import SluiceCore
import Synchronization

/// The `inmemory` endpoint: the embedded, bounded log. Message ids are offsets, so cursors and
/// `Last-Event-ID` resume exactly while the message is still retained.
public struct InMemoryEndpoint: EndpointConnector, SynchronousPublishing {
    public struct Configuration: Sendable, Hashable {
        /// Default: the API's id.
        public var topic: String
        public var retention: InMemoryRetention
        /// Where a consumer without a cursor starts: `latest` (only new messages, the default) or `earliest`.
        public var startAtEarliest: Bool

        public init(topic: String, retention: InMemoryRetention = .init(), startAtEarliest: Bool = false) {
            self.topic = topic
            self.retention = retention
            self.startAtEarliest = startAtEarliest
        }

        static let fields: Set<String> = ["topic", "maxMessages", "maxBytes", "autoOffsetReset"]

        /// Reads the endpoint's configuration; `defaultTopic` applies when `topic` is absent.
        public static func parse(
            _ object: JSONObject, at path: JSONPath, defaultTopic: String, diagnostics: inout DiagnosticCollector
        ) -> Configuration {
            let reader = ConfigurationReader(object, at: path)
            reader.warnUnknown(fields, &diagnostics)
            var configuration = Configuration(topic: defaultTopic)
            if let topic = reader.string("topic", &diagnostics) {
                if topic.isEmpty || topic.count > 249 {
                    diagnostics.error(path.key("topic"), "must be 1 to 249 characters")
                } else {
                    configuration.topic = topic
                }
            }
            if let count = reader.integer("maxMessages", &diagnostics, minimum: 1, maximum: 100_000_000) {
                configuration.retention.maxMessages = Int(count)
            }
            if let bytes = reader.integer("maxBytes", &diagnostics, minimum: 1024, maximum: 1 << 40) {
                configuration.retention.maxBytes = Int(bytes)
            }
            if let reset = reader.string("autoOffsetReset", &diagnostics) {
                switch reset.lowercased() {
                case "earliest": configuration.startAtEarliest = true
                case "latest": configuration.startAtEarliest = false
                default: diagnostics.error(path.key("autoOffsetReset"), "must be 'earliest' or 'latest'")
                }
            }
            return configuration
        }
    }

    public let type = "inmemory"
    public let canPublish = true
    public let canSubscribe = true
    public let configuration: Configuration
    let topic: InMemoryTopic

    public init(configuration: Configuration, broker: InMemoryBroker) {
        self.configuration = configuration
        self.topic = broker.topic(named: configuration.topic, retention: configuration.retention)
    }

    public func publish(_ message: Message) async throws -> Message {
        publishNow(message)
    }

    public func publishNow(_ message: Message) -> Message {
        topic.append(message, timestamp: Date.nowMilliseconds)
    }

    /// The topic this endpoint reads and writes.
    public var inMemoryTopic: InMemoryTopic { topic }

    public func subscribe(_ request: SubscriptionRequest) async throws -> any MessageSource {
        InMemoryMessageSource(topic: topic, offset: try startOffset(resumeAfter: request.resumeAfter))
    }

    /// The offset a reader starts at: right after the cursor, else where `autoOffsetReset` says.
    public func startOffset(resumeAfter cursor: String?) throws -> Int64 {
        if let cursor {
            guard let offset = Int64(cursor), offset >= -1 else { throw GatewayError.invalidCursor(cursor) }
            return offset + 1
        }
        let bounds = topic.bounds
        return configuration.startAtEarliest ? bounds.first : bounds.end
    }
}

/// A reader of one in-memory topic: just a position.
final class InMemoryMessageSource: MessageSource {
    private struct State {
        var offset: Int64
        var closed = false
    }

    private let topic: InMemoryTopic
    private let state: Mutex<State>
    /// The id of this reader's waits: one reader waits at most once at a time.
    private let waitID: UInt64

    init(topic: InMemoryTopic, offset: Int64) {
        self.topic = topic
        self.state = Mutex(State(offset: offset))
        self.waitID = topic.makeWaitID()
    }

    func next(maxCount: Int, until deadline: ContinuousClock.Instant?) async throws -> MessagePoll {
        while true {
            let (offset, closed) = state.withLock { ($0.offset, $0.closed) }
            if closed { return .ended }
            let (messages, next) = topic.read(from: offset, maxCount: maxCount)
            if !messages.isEmpty {
                state.withLock { $0.offset = next }
                return .messages(messages)
            }
            switch try await topic.waitForMessage(at: next, until: deadline, id: waitID) {
            case .messageAvailable: continue
            case .deadlinePassed: return .timedOut
            case .interrupted: return .ended
            }
        }
    }

    func close() {
        let wasOpen = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        if wasOpen { topic.interruptWait(id: waitID) }
    }

    deinit {
        topic.forgetWait(id: waitID)
    }
}

extension InMemoryMessageSource: RingBackedSource {
    var ring: InMemoryTopic { topic }

    func ringPosition() -> RingPosition {
        let (closed, offset) = state.withLock { ($0.closed, $0.offset) }
        // Below the oldest message kept, a reader continues from the oldest (as `read` does).
        return closed ? .ended(nil) : .at(max(offset, topic.bounds.first))
    }

    func handedOut(upTo next: Int64, lastID: String?) {
        state.withLock { $0.offset = next }
    }
}
