/// Where an API's messages go to and come from: a broker, the embedded log, or the mock.
public protocol EndpointConnector: Sendable {
    /// The endpoint type as definitions name it (`mock`, `inmemory`, `kafka`, …).
    var type: String { get }
    var canPublish: Bool { get }
    var canSubscribe: Bool { get }

    /// Sends one message; returns it with the id the endpoint gave it.
    func publish(_ message: Message) async throws -> Message

    /// Opens a stream of messages, starting after `request.resumeAfter` when the endpoint can recover from there.
    func subscribe(_ request: SubscriptionRequest) async throws -> any MessageSource

    /// Releases what the connector holds (connections, timers). Called once, when its API is undeployed.
    func stop() async
}

extension EndpointConnector {
    public func stop() async {}
}

/// An endpoint that takes a message at once, without waiting on anything (the embedded log, the mock).
/// The gateway serves publishes to such endpoints right on the connection's event loop.
public protocol SynchronousPublishing: Sendable {
    func publishNow(_ message: Message) throws -> Message
}

/// An endpoint that starts a publish at once and reports its outcome later (a broker's acknowledgement). The
/// gateway serves publishes to such endpoints on the connection's event loop, with no task per request.
public protocol CallbackPublishing: Sendable {
    /// Starts publishing `message`; `completion` runs once with the outcome, on any thread, possibly before this
    /// returns. Errors are what `publish(_:)` would throw.
    func publish(_ message: Message, completion: @escaping @Sendable (Result<Void, any Error>) -> Void)
}

/// What a consumer asks of an endpoint when it starts reading.
public struct SubscriptionRequest: Sendable {
    /// How long a subscription lives.
    public enum Mode: Sendable, Hashable {
        /// Reads what arrives within a short time, then ends (an http-get poll).
        case poll
        /// Stays open until the client leaves (SSE, WebSocket).
        case stream
    }

    /// The id of the last message the client has; the stream starts after it. `nil` starts at the live end
    /// (or at the beginning, as the endpoint configures).
    public var resumeAfter: String?
    /// Identifies the consumer across requests (consumer groups, shared subscriptions).
    public var clientIdentifier: String?
    /// True when the gateway made `clientIdentifier` up for this request (the client gave none): no other
    /// request shares it yet, so an endpoint may serve the subscription from what it reads for everyone.
    public var clientIdentifierIsGenerated: Bool
    public var qos: MessageQoS
    public var mode: Mode
    /// Gravitee's request attributes for the endpoint (`gravitee.attribute.kafka.groupId`, …). Nothing in the
    /// gateway sets them yet (no `assign-attributes` policy); endpoints honour the ones they know.
    public var attributes: [String: String]
    /// The gateway node's name, stable across its restarts (the `nodeId` setting), for a reader that keeps state
    /// at the broker per node: an at-least-once webhook subscription's MQTT 5 persistent session. nil: none.
    public var nodeIdentifier: String?

    public init(
        resumeAfter: String? = nil, clientIdentifier: String? = nil, clientIdentifierIsGenerated: Bool = false,
        qos: MessageQoS = .auto, mode: Mode = .stream, attributes: [String: String] = [:],
        nodeIdentifier: String? = nil
    ) {
        self.resumeAfter = resumeAfter
        self.clientIdentifier = clientIdentifier
        self.clientIdentifierIsGenerated = clientIdentifierIsGenerated
        self.qos = qos
        self.mode = mode
        self.attributes = attributes
        self.nodeIdentifier = nodeIdentifier
    }
}

/// What one pull from a ``MessageSource`` gave.
public enum MessagePoll: Sendable {
    /// One or more messages, in order.
    case messages([Message])
    /// The deadline passed with nothing to read.
    case timedOut
    /// The source has ended (a finite mock, or `close()` was called).
    case ended
}

/// A pull-based stream of messages. Consumers pull at their own pace, so a slow consumer never makes the
/// gateway buffer for it: the endpoint keeps the data (bounded), the consumer keeps only its position.
public protocol MessageSource: AnyObject, Sendable {
    /// Waits until at least one message is available, the deadline passes, or the source ends, and returns up
    /// to `maxCount` messages in order. A nil deadline waits as long as it takes. `close()` ends a pending wait
    /// (within a fraction of a second); cancelling the calling task ends it with `CancellationError`. A call that
    /// does not return messages consumes none.
    func next(maxCount: Int, until deadline: ContinuousClock.Instant?) async throws -> MessagePoll

    /// Ends the stream; pending and later calls to `next` return `.ended`.
    func close()

    /// Tells the source that every message it has returned so far has been written to the client: what an
    /// at-least-once source acknowledges (commits) only then.
    func delivered() async

    /// An id to resume from to continue exactly where this source stands now, also when it has returned no
    /// message yet (the positions it starts at); nil when the endpoint has none to give.
    var currentCursor: String? { get }
}

extension MessageSource {
    public func delivered() async {}

    public var currentCursor: String? { nil }

    /// Waits for messages with no deadline; an empty array means the source has ended.
    public func next(maxCount: Int) async throws -> [Message] {
        while true {
            switch try await next(maxCount: maxCount, until: nil) {
            case .messages(let messages): return messages
            case .ended: return []
            case .timedOut: continue
            }
        }
    }
}
