import Foundation
public import Logging
import MQTT5
import NIOCore
public import SluiceCore
import Synchronization

/// The `mqtt5` endpoint: publishes messages to an MQTT 5 broker and streams messages from it, with Gravitee's
/// configuration, shared subscriptions and QoS, over the project's own MQTT 5 client.
///
/// Publishing goes through one connection per deployment, made on first use, at MQTT QoS 1: a publish returns once
/// the broker's PUBACK says it has the message. Each subscription has a connection of its own, subscribed to
/// `$share/<client identifier>/<topic>`, so subscribers with one client identifier share the messages and
/// subscribers with different ones each get them all; see `docs/mqtt5-endpoint.md`.
public struct MQTT5Endpoint: EndpointConnector {
    /// The attributes Gravitee users set to steer the endpoint per message or request.
    public enum Attribute {
        /// The topic a message is published to, or a subscription reads, instead of the configured one.
        public static let topic = "gravitee.attribute.mqtt5.topic"
    }

    public let type = "mqtt5"
    public let configuration: MQTT5EndpointConfiguration
    let runtime: MQTT5EndpointRuntime

    public var canPublish: Bool { configuration.producer.enabled }
    public var canSubscribe: Bool { configuration.consumer.enabled }

    /// How long a publish waits for the broker's acknowledgement.
    static let acknowledgementTimeout = Duration.seconds(10)
    /// A subscription ends with an error once its connection has been down this long (or has failed more than
    /// `reconnectAttempts` reconnections).
    static let outageGrace = Duration.seconds(2)
    /// How long a request waits for a first connection to the broker (a link known to be down fails at once).
    static let connectTimeout = Duration.seconds(6)

    public init(configuration: MQTT5EndpointConfiguration, logger: Logger) {
        self.configuration = configuration
        self.runtime = MQTT5EndpointRuntime(configuration: configuration, logger: logger)
    }

    // MARK: Publishing

    public func publish(_ message: Message) async throws -> Message {
        let producer = configuration.producer
        guard producer.enabled else { throw GatewayError.mqtt5ModeDisabled(.publish) }
        let topic = message.attributes[Attribute.topic].flatMap { $0.isEmpty ? nil : $0 } ?? producer.topic
        guard MQTTTopic.isValidName(topic) else { throw GatewayError.mqtt5InvalidTopic(topic) }
        let link = try runtime.publisher()
        // A broker known to be away fails the publish now, and it is never queued to be sent later.
        try await link.waitUntilUp(timeout: Self.connectTimeout)
        let properties = Self.publishProperties(message, producer)
        let client = link.client
        let content = message.content
        let retain = producer.retained
        do {
            let acknowledged = try await withTimeLimit(Self.acknowledgementTimeout) {
                try await client.publish(
                    topic: topic, payload: content, qos: .atLeastOnce, retain: retain, properties: properties)
            }
            guard acknowledged != nil else {
                throw GatewayError.mqtt5Timeout(after: Int(Self.acknowledgementTimeout.components.seconds))
            }
        } catch let error as MQTT5ClientError {
            throw GatewayError.mqtt5(error)
        }
        var published = message
        published.metadata["topic"] = topic
        published.metadata["qos"] = "1"
        return published
    }

    /// The message's headers as User Properties, and the configured Message Expiry Interval and Response Topic.
    static func publishProperties(_ message: Message, _ producer: MQTT5EndpointConfiguration.Producer) -> MQTTProperties
    {
        var properties = MQTTProperties()
        properties.userProperties = message.headers.map { MQTTUserProperty(name: $0.name, value: $0.value) }
        properties.messageExpiryInterval = producer.messageExpiryInterval
        properties.responseTopic = producer.responseTopic
        return properties
    }

    // MARK: Subscribing

    public func subscribe(_ request: SubscriptionRequest) async throws -> any MessageSource {
        let consumer = configuration.consumer
        guard consumer.enabled else { throw GatewayError.mqtt5ModeDisabled(.subscribe) }
        let topic = request.attributes[Attribute.topic].flatMap { $0.isEmpty ? nil : $0 } ?? consumer.topic
        guard MQTTTopic.isValidFilter(topic), !topic.hasPrefix("$share/") else {
            throw GatewayError.mqtt5InvalidTopic(topic)
        }
        // A stream whose identifier the gateway made up would be alone in its share group: it reads from the
        // deployment's shared tail of the filter instead of a connection of its own (MQTT5Tail).
        if request.mode == .stream, request.clientIdentifierIsGenerated {
            for _ in 0..<2 {
                let tail = try await runtime.tail(topic: topic)
                if let source = MQTT5TailSource(tail: tail, logger: runtime.logger) { return source }
                // It stopped between its start and this attach (it forgets itself): the next one is new.
            }
        }
        let group = Self.shareName(request.clientIdentifier ?? UUID().uuidString)
        let filter = "$share/\(group)/\(topic)"
        // A poll's session outlives it, so the next poll of the same client gets what arrived in between (and what
        // this one received but did not hand out). Its identifier is derived from what it reads, so any gateway
        // node finds it. A poll that comes while another of the same client runs on this node gets a session of
        // its own for its duration (two connections with one identifier would take the session from each other),
        // and shares the messages with it.
        // An at-least-once reader (a webhook subscription on this node) keeps a session per node in the same way,
        // so that what arrives while the node (or the callback) is away waits for it; it acknowledges a message
        // only once the reader reports it delivered.
        let explicitAcknowledgement = request.qos == .atLeastOnce
        let sessionIdentifier: String? =
            if request.mode == .poll {
                pollSessionIdentifier(filter: filter)
            } else if explicitAcknowledgement, let node = request.nodeIdentifier {
                durableSessionIdentifier(filter: filter, node: node)
            } else {
                nil
            }
        let session: String? =
            if let sessionIdentifier { await runtime.claimPollSession(sessionIdentifier) } else { nil }
        let persistent = session != nil
        let clientIdentifier = session ?? "sluice-s-\(UUID().uuidString.prefix(13).lowercased())"
        let runtime = self.runtime
        let closing: @Sendable () -> Void = { if let session { runtime.pollSessionClosing(session) } }
        let released: @Sendable () -> Void = { if let session { runtime.releasePollSession(session) } }
        let link: MQTT5Link
        let subscription: MQTT5Subscription
        do {
            (link, subscription) = try await Self.connectSubscription(
                configuration: configuration, clientIdentifier: clientIdentifier, persistent: persistent,
                filter: filter, maximumQoS: request.qos == .none ? .atMostOnce : .atLeastOnce,
                acknowledgement: explicitAcknowledgement ? .explicit : .onRead, logger: runtime.logger)
        } catch {
            released()
            throw error
        }
        return MQTT5MessageSource(
            link: link, subscription: subscription, endsSession: !persistent, onClose: closing, onStopped: released)
    }

    /// The client identifier of an at-least-once reader's session on one gateway node: derived from the broker, the
    /// shared filter and the node's name, so the node finds it again after a restart and two nodes never meet on
    /// one; 23 characters.
    func durableSessionIdentifier(filter: String, node: String) -> String {
        "sluice-w-"
            + Self.stableHash("\(configuration.serverHost):\(configuration.serverPort)/\(filter)/\(node)").prefix(14)
    }

    /// A connection of its own subscribed to `filter`: a stream's (session ending with the connection), a poll's
    /// (`persistent`), or a shared tail's.
    static func connectSubscription(
        configuration: MQTT5EndpointConfiguration, clientIdentifier: String, persistent: Bool, filter: String,
        maximumQoS: MQTTQoS, acknowledgement: MQTT5Subscription.Acknowledgement = .onRead, logger: Logger
    ) async throws -> (MQTT5Link, MQTT5Subscription) {
        var clientConfiguration = configuration.clientConfiguration(clientIdentifier: clientIdentifier)
        clientConfiguration.cleanStart = !persistent
        if !persistent {
            // A stream ends when its connection has been down a moment, so a session kept after it would only sit
            // in the share group, taking a share of the messages for nobody, until it expired.
            clientConfiguration.sessionExpiryInterval = 0
        }
        let link = MQTT5Link(
            configuration: clientConfiguration,
            outageLimit: .init(grace: outageGrace, failedAttempts: configuration.reconnectAttempts),
            logger: logger)
        let client = link.client
        // Subscribing before the client connects: a resumed session's queued messages find their subscription.
        let subscribing = Task {
            try await client.subscribe(
                to: [MQTTSubscription(topicFilter: filter, options: .init(maximumQoS: maximumQoS))],
                acknowledgement: acknowledgement)
        }
        link.start()
        do {
            try await link.waitUntilUp(timeout: connectTimeout)
            let granted = try await withTimeLimit(acknowledgementTimeout) {
                try await withTaskCancellationHandler {
                    try await subscribing.value
                } onCancel: {
                    subscribing.cancel()
                }
            }
            guard let granted else {
                throw GatewayError.mqtt5Unavailable(MQTT5ClientError(.timedOut, "no SUBACK"))
            }
            return (link, granted)
        } catch {
            subscribing.cancel()
            await link.stop(endSession: !persistent)
            if let error = error as? MQTT5ClientError { throw GatewayError.mqtt5(error) }
            throw error
        }
    }

    public func stop() async {
        await runtime.stop()
    }

    /// The client identifier of a client's poll session: derived from the broker and the shared filter, so every
    /// gateway node finds the same session; 23 characters, the length every broker must accept.
    func pollSessionIdentifier(filter: String) -> String {
        "sluice-p-" + Self.stableHash("\(configuration.serverHost):\(configuration.serverPort)/\(filter)").prefix(14)
    }

    /// A ShareName from a client identifier: MQTT forbids `/`, `+` and `#` in it.
    static func shareName(_ clientIdentifier: String) -> String {
        let cleaned = String(
            clientIdentifier.map { "/+#".contains($0) ? "_" : $0 })
        return cleaned.isEmpty ? "_" : cleaned
    }

    /// FNV-1a, 64 bits, in hex: a stable name derived from a text.
    static func stableHash(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// What one deployed `mqtt5` endpoint holds: the publishing connection, made on first use.
final class MQTT5EndpointRuntime: Sendable {
    private struct State {
        var publisher: MQTT5Link?
        var stopped = false
        /// The poll sessions a poll on this node is using now, and whether that poll is ending.
        var pollSessions: [String: PollSessionUse] = [:]
    }

    enum PollSessionUse {
        case active
        /// The poll has ended and its connection is closing: the session is free in a moment.
        case closing
    }

    let configuration: MQTT5EndpointConfiguration
    let logger: Logger
    private let state = Mutex(State())
    /// The shared tails of the streams with identifiers of their own, by topic filter.
    private let tails = TailRegistry<String, MQTT5Tail>()

    init(configuration: MQTT5EndpointConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The shared tail of `topic`, started by the first stream that needs it.
    func tail(topic: String) async throws -> MQTT5Tail {
        let configuration = configuration
        let logger = logger
        let tail = try await tails.tail(topic) { onStop in
            try await MQTT5Tail.start(topic: topic, configuration: configuration, logger: logger, onStop: onStop)
        }
        guard let tail else {
            throw GatewayError.mqtt5Unavailable(MQTT5ClientError(.shutDown, "the API is being undeployed"))
        }
        return tail
    }

    /// The publishing connection, when something has needed it already.
    var existingPublisher: MQTT5Link? { state.withLock { $0.publisher } }

    /// The deployment's publishing connection, started on first use.
    func publisher() throws(GatewayError) -> MQTT5Link {
        let result = state.withLock { state -> Result<MQTT5Link, GatewayError> in
            if state.stopped {
                return .failure(.mqtt5Unavailable(MQTT5ClientError(.shutDown, "the API is being undeployed")))
            }
            if let publisher = state.publisher { return .success(publisher) }
            // 23 characters at most, the length every broker must accept.
            let identifier = "sluice-pub-\(UUID().uuidString.prefix(12).lowercased())"
            let link = MQTT5Link(
                configuration: configuration.clientConfiguration(clientIdentifier: identifier), logger: logger)
            link.start()
            state.publisher = link
            return .success(link)
        }
        return try result.get()
    }

    /// Claims the poll session `identifier` for one poll, waiting (at most 2 s) for a poll that has ended to let go
    /// of it; nil while another poll on this node is using it.
    func claimPollSession(_ identifier: String) async -> String? {
        let deadline = ContinuousClock.now + .seconds(2)
        while true {
            let holder = state.withLock { state -> PollSessionUse? in
                if let use = state.pollSessions[identifier] { return use }
                state.pollSessions[identifier] = .active
                return nil
            }
            switch holder {
            case nil:
                return identifier
            case .active?:
                return nil
            case .closing?:
                guard ContinuousClock.now < deadline, (try? await Task.sleep(for: .milliseconds(10))) != nil else {
                    return nil
                }
            }
        }
    }

    /// The poll using the session has ended; its connection is closing.
    func pollSessionClosing(_ identifier: String) {
        state.withLock { state in
            if state.pollSessions[identifier] != nil { state.pollSessions[identifier] = .closing }
        }
    }

    /// Gives the poll session back, once the poll's connection has ended.
    func releasePollSession(_ identifier: String) {
        _ = state.withLock { $0.pollSessions.removeValue(forKey: identifier) }
    }

    /// Ends the publishing connection (publishes in flight get the client's drain time); later use fails.
    func stop() async {
        let publisher = state.withLock { state in
            state.stopped = true
            return state.publisher
        }
        for tail in await tails.close() {
            tail.shared.stop(.mqtt5Unavailable(MQTT5ClientError(.shutDown, "the API is being undeployed")))
        }
        await publisher?.stop(endSession: true)
    }
}
