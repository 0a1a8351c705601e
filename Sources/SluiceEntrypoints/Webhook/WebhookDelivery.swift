import Foundation
public import Logging
public import SluiceCore
import SluiceEndpoints
import Synchronization

/// One webhook subscription's delivery loop: reads the API's endpoint as the subscription's own consumer (its id
/// is the client identifier: a Kafka consumer group, an MQTT shared subscription), POSTs each message to the
/// callback, and reports to the endpoint what was delivered, batch by batch, so that an at-least-once endpoint
/// commits only what the callback took. Retries, the DLQ and the subscription's status follow
/// ``WebhookDeliveryStateMachine``.
///
/// Memory is bounded: one batch (``batchSize`` messages) in hand, at most `maxConcurrentConnections` POSTs in flight.
public final class WebhookDelivery: Sendable {
    /// What this delivery has done so far, for tests, logs and metrics.
    public struct Counters: Sendable, Hashable {
        /// Messages the callback acknowledged (2xx), once each.
        public var delivered = 0
        /// Failed attempts that were tried again (and probes while in `FAILURE`).
        public var retries = 0
        /// Messages given up and published to the DLQ.
        public var deadLettered = 0
        /// Messages given up without a DLQ (or whose DLQ publish failed).
        public var dropped = 0
        /// Messages a flow step dropped before delivery (`message-filtering`): acknowledged, never POSTed.
        public var filtered = 0
    }

    /// What a delivery counts, as it happens (the gateway's metrics).
    public enum Outcome: String, Sendable, CaseIterable {
        case delivered
        case retried
        case deadLettered = "dead_lettered"
        case dropped
        /// A flow step dropped the message before delivery.
        case filtered
    }

    public let subscriptionID: String
    public let apiID: String
    public let qos: MessageQoS
    /// This gateway node's stable name, for endpoints that keep a reader's state per node (MQTT 5 sessions).
    public let nodeIdentifier: String?
    let configuration: WebhookEntrypoint.Configuration
    let webhook: WebhookSubscriptionConfiguration
    let endpoint: any EndpointConnector
    let deadLetters: (any EndpointConnector)?
    /// The subscription's run through the API's flows (`subscribe` phase), applied to each message before it is
    /// POSTed; nil when no flow has a step there.
    let flow: FlowRun?
    /// Which addresses callbacks may reach, and how their names are resolved.
    let callbackPolicy: WebhookCallbackPolicy
    let resolver: WebhookHostResolver
    let logger: Logger
    private let machine: Mutex<WebhookDeliveryStateMachine>
    private let tally = Mutex(Counters())
    /// Told of each outcome as it is counted.
    private let onOutcome: (@Sendable (Outcome) -> Void)?
    /// Set when the delivery cannot run at all (TLS settings that do not load).
    private let setupFailure = Mutex<String?>(nil)
    /// The callbacks' client spans, when the gateway traces.
    let tracer: (any CallbackTracer)?

    /// Messages taken from the endpoint at once.
    static let batchSize = 64

    public init(
        subscriptionID: String, apiID: String, qos: MessageQoS, configuration: WebhookEntrypoint.Configuration,
        webhook: WebhookSubscriptionConfiguration, endpoint: any EndpointConnector,
        deadLetters: (any EndpointConnector)?, flow: FlowRun? = nil, paused: Bool = false,
        nodeIdentifier: String? = nil,
        callbackPolicy: WebhookCallbackPolicy = .init(), resolver: WebhookHostResolver = .system, logger: Logger,
        onOutcome: (@Sendable (Outcome) -> Void)? = nil, tracer: (any CallbackTracer)? = nil
    ) {
        self.onOutcome = onOutcome
        self.tracer = tracer
        self.callbackPolicy = callbackPolicy
        self.resolver = resolver
        self.subscriptionID = subscriptionID
        self.apiID = apiID
        self.qos = qos
        self.nodeIdentifier = nodeIdentifier
        self.configuration = configuration.effective(for: qos)
        self.webhook = webhook
        self.endpoint = endpoint
        self.deadLetters = deadLetters
        self.flow = flow
        var logger = logger
        logger[metadataKey: "api"] = "\(apiID)"
        logger[metadataKey: "subscription"] = "\(subscriptionID)"
        self.logger = logger
        var machine = WebhookDeliveryStateMachine(options: self.configuration.delivery)
        if paused { machine.pauseRequested() }
        self.machine = Mutex(machine)
    }

    public var status: WebhookDeliveryStateMachine.Status {
        if setupFailure.withLock({ $0 }) != nil { return .failure }
        return machine.withLock { $0.status }
    }

    /// Why the subscription is in `FAILURE`, if it is.
    public var failureReason: String? {
        setupFailure.withLock { $0 } ?? machine.withLock { $0.failureReason }
    }

    public var counters: Counters { tally.withLock { $0 } }

    public func pause() { machine.withLock { $0.pauseRequested() } }
    public func resume() { machine.withLock { $0.resumeRequested() } }

    /// Delivers until the task is cancelled (or a finite endpoint ends). Cancelling leaves at once; what was not
    /// acknowledged is not reported delivered, so an at-least-once endpoint gives it again to the next run.
    public func run() async {
        let client: WebhookCallbackClient
        do {
            client = try WebhookCallbackClient(
                subscription: webhook, configuration: configuration, policy: callbackPolicy, resolver: resolver,
                tracer: tracer)
        } catch {
            setupFailure.withLock { $0 = "\(error)" }
            logger.error("webhook subscription cannot start", metadata: ["error": "\(error)"])
            return
        }
        await deliver(client: client)
        await client.shutdown()
    }

    private func deliver(client: WebhookCallbackClient) async {
        var lastID: String?
        var reconnectDelay: Int64 = configuration.delivery.delayMs
        while !Task.isCancelled {
            let source: any MessageSource
            do {
                try await waitWhilePaused()
                source = try await endpoint.subscribe(subscriptionRequest(resumeAfter: lastID))
                reconnectDelay = configuration.delivery.delayMs
            } catch is CancellationError {
                return
            } catch {
                logger.warning("webhook subscription cannot read its endpoint", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(reconnectDelay))
                reconnectDelay = min(reconnectDelay * 2, configuration.delivery.maxDelayMs)
                continue
            }
            do {
                let ended = try await consume(source, client: client, lastID: &lastID)
                source.close()
                if ended { return }
            } catch {
                source.close()
                if Task.isCancelled || error is CancellationError { return }
                logger.warning("webhook subscription lost its endpoint", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(reconnectDelay))
            }
        }
    }

    func subscriptionRequest(resumeAfter: String?) -> SubscriptionRequest {
        var attributes: [String: String] = [:]
        if let channel = webhook.channel {
            attributes[KafkaEndpoint.Attribute.topics] = channel
            attributes[MQTT5Endpoint.Attribute.topic] = channel
        }
        // The subscription's id names its consumer on every node: one Kafka consumer group, one MQTT shared
        // subscription, so that several gateways share its work and a restart resumes from the group's position.
        return SubscriptionRequest(
            resumeAfter: resumeAfter, clientIdentifier: "webhook-\(subscriptionID)", clientIdentifierIsGenerated: false,
            qos: qos, mode: .stream, attributes: attributes, nodeIdentifier: nodeIdentifier)
    }

    /// Reads and delivers batches; true when the source ended.
    private func consume(
        _ source: any MessageSource, client: WebhookCallbackClient, lastID: inout String?
    ) async throws -> Bool {
        while true {
            try await waitWhilePaused()
            let messages: [Message]
            switch try await source.next(maxCount: Self.batchSize, until: .now + .seconds(1)) {
            case .messages(let batch): messages = batch
            case .timedOut: continue
            case .ended: return true
            }
            try await deliver(messages, client: client)
            if let id = messages.last?.id { lastID = id }
            await source.delivered()
        }
    }

    /// Delivers a batch, in order with one POST at a time, or with up to `maxConcurrentConnections` at once.
    private func deliver(_ messages: [Message], client: WebhookCallbackClient) async throws {
        let width = configuration.maxConcurrentConnections
        if width <= 1 {
            for message in messages { try await deliver(message, client: client) }
            return
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for message in messages {
                if inFlight == width {
                    try await group.next()
                    inFlight -= 1
                }
                group.addTask { try await self.deliver(message, client: client) }
                inFlight += 1
            }
            try await group.waitForAll()
        }
    }

    /// Delivers one message until it is acknowledged, sent to the DLQ or dropped; throws only when cancelled.
    private func deliver(_ message: Message, client: WebhookCallbackClient) async throws {
        let webhookID = Self.webhookID(of: message, subscription: subscriptionID)
        var message = message
        if let flow {
            switch await flow.process(message, in: .subscribe) {
            case .deliver(let processed):
                message = processed
            case .drop:
                tally.withLock { $0.filtered += 1 }
                onOutcome?(.filtered)
                return
            case .fail(let error):
                // A step that fails on a message fails it for good: retrying would fail the same way.
                let reason = "a flow step failed: \(error.key) \(error.message)"
                if deadLetters != nil {
                    try await sendToDeadLetters(message, reason: reason)
                } else {
                    tally.withLock { $0.dropped += 1 }
                    onOutcome?(.dropped)
                    logger.warning("webhook message dropped", metadata: ["reason": "\(reason)"])
                }
                return
            }
        }
        while true {
            try await waitWhilePaused()
            let failure = await client.post(message, webhookID: webhookID)
            let action: WebhookDeliveryStateMachine.Action =
                if let failure {
                    machine.withLock { $0.attemptFailed(failure, jitter: Double.random(in: 0..<1)) }
                } else {
                    machine.withLock { $0.attemptSucceeded() }
                }
            switch action {
            case .acknowledge:
                tally.withLock { $0.delivered += 1 }
                onOutcome?(.delivered)
                return
            case .retry(let delay):
                tally.withLock { $0.retries += 1 }
                onOutcome?(.retried)
                logger.debug(
                    "webhook attempt failed, retrying", metadata: ["failure": "\(failure!)", "delayMs": "\(delay)"])
                try await Task.sleep(for: .milliseconds(delay))
            case .interrupt(let reason, let delay):
                tally.withLock { $0.retries += 1 }
                onOutcome?(.retried)
                logger.warning(
                    "webhook subscription in FAILURE: consumption interrupted", metadata: ["reason": "\(reason)"])
                try await Task.sleep(for: .milliseconds(delay))
            case .deadLetter(let reason):
                try await sendToDeadLetters(message, reason: reason)
                return
            case .drop(let reason):
                tally.withLock { $0.dropped += 1 }
                onOutcome?(.dropped)
                logger.warning(
                    "webhook message dropped", metadata: ["reason": "\(reason)", "id": "\(message.id ?? "")"])
                return
            }
        }
    }

    /// The `webhook-id` of a message's POSTs, the same on every retry and redelivery when the message carries an
    /// identity: the publisher's own `webhook-id` header (an MQTT User Property, a Kafka header; 1–128 visible ASCII
    /// characters), else the endpoint's message id (a Kafka partition and offset, an embedded-log offset). A message
    /// with neither (MQTT without the property) gets a random one, kept across its retries on this node only.
    static func webhookID(of message: Message, subscription: String) -> String {
        if let given = message.headers["webhook-id"].first, (1...128).contains(given.utf8.count),
            given.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        {
            return "msg_\(subscription)_\(given)"
        }
        if let id = message.id { return "msg_\(subscription)_\(id)" }
        return "msg_\(UUID().uuidString)"
    }

    /// Publishes a message given up to the DLQ endpoint, with why, as headers; retried while the DLQ is away
    /// (the message is not acknowledged before it is there).
    private func sendToDeadLetters(_ message: Message, reason: String) async throws {
        guard let deadLetters else { return }
        var copy = message
        copy.id = nil
        copy.headers.set(name: "X-Gravitee-Webhook-Failure", value: reason)
        copy.headers.set(name: "X-Gravitee-Webhook-Subscription", value: subscriptionID)
        if let id = message.id { copy.headers.set(name: "X-Gravitee-Webhook-Message-Id", value: id) }
        var delay = configuration.delivery.delayMs
        while true {
            do {
                _ = try await deadLetters.publish(copy)
                tally.withLock { $0.deadLettered += 1 }
                onOutcome?(.deadLettered)
                logger.info("webhook message sent to the DLQ", metadata: ["reason": "\(reason)"])
                return
            } catch {
                logger.warning("the DLQ refused a message, retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .milliseconds(delay))
                delay = min(delay * 2, configuration.delivery.maxDelayMs)
            }
        }
    }

    private func waitWhilePaused() async throws {
        while machine.withLock({ $0.status == .paused }) {
            try await Task.sleep(for: .milliseconds(50))
        }
        try Task.checkCancellation()
    }
}
