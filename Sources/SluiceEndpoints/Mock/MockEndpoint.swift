import Foundation
public import NIOCore
public import SluiceCore
import Synchronization

/// The `mock` endpoint, with Gravitee's semantics: each subscriber gets its own sequence of generated
/// messages, one every `messageInterval` ms, with ids "0", "1", …, up to `messageCount` in all; a subscriber
/// that resumes after id N gets N+1 onwards. Published messages are accepted and dropped.
public struct MockEndpoint: EndpointConnector, SynchronousPublishing {
    public struct Configuration: Sendable {
        /// Default: 1000 ms.
        public var messageInterval: Int64 = 1000
        /// Default: "mock message".
        public var messageContent: String = "mock message"
        /// Default: unlimited.
        public var messageCount: Int64?
        public var headers: [(name: String, value: String)] = []
        public var metadata: [(name: String, value: String)] = []

        public init() {}

        static let fields: Set<String> = ["messageInterval", "messageContent", "messageCount", "headers", "metadata"]

        public static func parse(
            _ object: JSONObject, at path: JSONPath, diagnostics: inout DiagnosticCollector
        ) -> Configuration {
            let reader = ConfigurationReader(object, at: path)
            reader.warnUnknown(fields, &diagnostics)
            var configuration = Configuration()
            if reader.has("messageInterval"),
                let interval = reader.integer("messageInterval", &diagnostics, minimum: 1)
            {
                configuration.messageInterval = interval
            }
            if let content = reader.string("messageContent", &diagnostics) { configuration.messageContent = content }
            if reader.has("messageCount") {
                configuration.messageCount = reader.integer("messageCount", &diagnostics, minimum: 0)
            }
            configuration.headers = reader.namedValues("headers", &diagnostics)
            configuration.metadata = reader.namedValues("metadata", &diagnostics)
            return configuration
        }
    }

    public let type = "mock"
    public let canPublish = true
    public let canSubscribe = true
    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public func publish(_ message: Message) async throws -> Message {
        message
    }

    public func publishNow(_ message: Message) -> Message {
        message
    }

    public func subscribe(_ request: SubscriptionRequest) async throws -> any MessageSource {
        var first: Int64 = 0
        if let cursor = request.resumeAfter {
            guard let last = Int64(cursor), last >= -1 else { throw GatewayError.invalidCursor(cursor) }
            first = last + 1
        }
        return MockMessageSource(configuration: configuration, firstIndex: first)
    }
}

/// Generates one subscriber's mock messages on a schedule fixed at subscription time.
final class MockMessageSource: MessageSource {
    private struct State {
        var nextIndex: Int64
        var emitted: Int64 = 0
        var closed = false
    }

    private let configuration: MockEndpoint.Configuration
    private let start = ContinuousClock.now
    private let state: Mutex<State>
    private let content: ByteBuffer
    private let headers: MessageHeaders
    private let metadata: [String: String]

    init(configuration: MockEndpoint.Configuration, firstIndex: Int64) {
        self.configuration = configuration
        self.state = Mutex(State(nextIndex: firstIndex))
        self.content = ByteBuffer(string: configuration.messageContent)
        self.headers = MessageHeaders(configuration.headers)
        self.metadata = Dictionary(
            configuration.metadata.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    /// Longest single sleep, so that `close()` is noticed within this time.
    static let closeCheckInterval = Duration.milliseconds(200)

    func next(maxCount: Int, until deadline: ContinuousClock.Instant?) async throws -> MessagePoll {
        let interval = Duration.milliseconds(configuration.messageInterval)
        while true {
            let (index, emitted, closed) = state.withLock { ($0.nextIndex, $0.emitted, $0.closed) }
            if closed { return .ended }
            if let count = configuration.messageCount, index >= count { return .ended }
            // Message k of this subscription is due one interval after message k-1, the first one interval in.
            let now = ContinuousClock.now
            let due = Int64((now - start) / interval) - emitted
            if due > 0 {
                var batch = min(Int64(maxCount), due)
                if let count = configuration.messageCount { batch = min(batch, count - index) }
                let timestamp = Date.nowMilliseconds
                let messages = (0..<batch).map { offset -> Message in
                    Message(
                        id: String(index + offset), content: content, headers: headers, metadata: metadata,
                        timestamp: timestamp
                    )
                }
                state.withLock {
                    $0.nextIndex += batch
                    $0.emitted += batch
                }
                return .messages(messages)
            }
            if let deadline, deadline <= now { return .timedOut }
            var wake = start + interval * Int(emitted + 1)
            if let deadline { wake = min(wake, deadline) }
            wake = min(wake, now + Self.closeCheckInterval)
            try await Task.sleep(until: wake, clock: .continuous)
        }
    }

    func close() {
        state.withLock { $0.closed = true }
    }
}
