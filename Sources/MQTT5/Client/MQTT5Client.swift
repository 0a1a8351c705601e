import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// An MQTT 5.0 client: publishes with QoS 0, 1 and 2, subscribes with back-pressure, and keeps its session across
/// reconnections.
///
/// The client is a `Service`: `run()` owns the connection. It connects, and after a connection ends it connects
/// again, waiting longer after each failure (exponential backoff with jitter, `reconnectBackoff`); it stops on
/// `disconnect(reason:)`, on graceful shutdown, when its task is cancelled, or on a failure that retrying cannot
/// fix (credentials refused, session taken over by another connection; `MQTT5ClientError.isRetriable`), which
/// `run()` throws. Publishes and subscribes made while it is not connected wait for the connection.
///
/// A client runs once: after `run()` returns, every call fails with `shutDown`.
public final class MQTT5Client: Service, Sendable {
    public let configuration: MQTT5ClientConfiguration
    public let logger: Logger
    let eventLoop: any EventLoop
    let driver: NIOLoopBoundBox<MQTT5ClientDriver>
    /// The driver's connection events, reachable from any thread.
    private let events: MQTT5ConnectionEventHub
    /// Publishes on their way to the driver, and cancellations of them; reachable from any thread.
    private let publishInbox: MQTTEventLoopInbox<MQTT5ClientDriver.PublishSubmission>
    /// Deliveries the subscriptions' consumers took, on their way to the driver.
    private let takenInbox: MQTTEventLoopInbox<MQTTSessionStateMachine.DeliveryID>
    /// The bound on publishes nobody waits for.
    private let publishBacklog: MQTTPublishBacklog
    private let counters = NIOLockedValueBox(Counters())
    private let started = NIOLockedValueBox(false)

    private struct Counters {
        var request: UInt64 = 0
        var subscription = 0
    }

    /// - Parameters:
    ///   - eventLoopGroup: Where the connection runs; the client keeps to one event loop of it.
    ///   - logger: Connection events at debug level. Default: no logging.
    public init(
        configuration: MQTT5ClientConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "sluice.mqtt5", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.configuration = configuration
        self.logger = logger
        let eventLoop = eventLoopGroup.next()
        self.eventLoop = eventLoop
        let driver = MQTT5ClientDriver(configuration: configuration, eventLoop: eventLoop, logger: logger)
        self.events = driver.events
        self.publishInbox = driver.publishInbox
        self.takenInbox = driver.takenInbox
        self.publishBacklog = driver.publishBacklog
        self.driver = NIOLoopBoundBox.makeBoxSendingValue(driver, eventLoop: eventLoop)
    }

    // MARK: Running

    /// Connects and stays connected until `disconnect`, graceful shutdown or cancellation; throws the failure that
    /// made it stop otherwise (and `invalidArgument` for a configuration the protocol cannot carry).
    public func run() async throws {
        try configuration.validate()
        let sslContext: NIOSSLContext?
        do {
            sslContext = try configuration.tls.map { try NIOSSLContext(configuration: $0) }
        } catch {
            throw MQTT5ClientError(.invalidArgument, "TLS configuration: \(error)")
        }
        let alreadyStarted = started.withLockedValue { started in
            defer { started = true }
            return started
        }
        guard !alreadyStarted else { throw MQTT5ClientError(.invalidArgument, "run() was called before") }

        var backoff = MQTTReconnectBackoff(configuration.reconnectBackoff)
        let fatal: MQTT5ClientError? = await withGracefulShutdownHandler {
            await withTaskCancellationHandler { () async -> MQTT5ClientError? in
                while true {
                    let outcome = await connectOnce(sslContext: sslContext)
                    if outcome.stopping { return nil }
                    if outcome.connected { backoff.reset() }
                    guard outcome.error.isRetriable else {
                        logger.error("not reconnecting", metadata: ["error": "\(outcome.error)"])
                        return outcome.error
                    }
                    let delay = backoff.nextDelay()
                    logger.debug(
                        "reconnecting",
                        metadata: ["error": "\(outcome.error)", "mqtt.delay": "\(delay.nanoseconds / 1_000_000) ms"])
                    await waitBeforeReconnecting(delay)
                }
            } onCancel: {
                self.stop(
                    MQTTDisconnectPacket(), error: MQTT5ClientError(.shutDown, "the client's task was cancelled"),
                    drain: .zero)
            }
        } onGracefulShutdown: {
            self.stop(
                MQTTDisconnectPacket(), error: MQTT5ClientError(.shutDown, "the client shut down"),
                drain: self.configuration.shutdownDrainTimeout)
        }
        let driver = self.driver
        try? await eventLoop.submit { driver.value.finish(fatal) }.get()
        if let fatal { throw fatal }
    }

    private func connectOnce(sslContext: NIOSSLContext?) async -> MQTT5ConnectionOutcome {
        let promise = eventLoop.makePromise(of: MQTT5ConnectionOutcome.self)
        let driver = self.driver
        eventLoop.execute { driver.value.startConnection(sslContext: sslContext, promise: promise) }
        // The driver always succeeds the promise: with the error the connection ended with.
        return (try? await promise.futureResult.get())
            ?? MQTT5ConnectionOutcome(
                connected: false, error: MQTT5ClientError(.connectionFailed, "no outcome"), stopping: true)
    }

    private func waitBeforeReconnecting(_ delay: TimeAmount) async {
        let promise = eventLoop.makePromise(of: Void.self)
        let driver = self.driver
        eventLoop.execute { driver.value.waitBeforeReconnecting(delay, promise: promise) }
        try? await promise.futureResult.get()
    }

    private func stop(_ packet: MQTTDisconnectPacket, error: MQTT5ClientError, drain: TimeAmount) {
        let driver = self.driver
        eventLoop.execute { driver.value.stop(packet, error: error, drain: drain) }
    }

    /// Ends the connection with DISCONNECT and stops the client: `run()` returns. Publishes still waiting for
    /// their acknowledgement get up to `shutdownDrainTimeout` first. With `.disconnectWithWillMessage` the server
    /// publishes the Will Message; with the default, Normal disconnection, it does not.
    ///
    /// Returns once `run()` has finished (at once when it never ran).
    public func disconnect(
        reason: MQTTReasonCode = .normalDisconnection,
        properties: MQTTProperties = MQTTProperties()
    ) async throws(MQTT5ClientError) {
        guard reason.isAllowed(in: .disconnect), MQTTReasonCode.clientDisconnectCodes.contains(reason.rawValue) else {
            throw MQTT5ClientError(.invalidArgument, "\(reason) is not a Reason Code a client's DISCONNECT may carry")
        }
        do throws(MQTTProtocolError) {
            try properties.validate(in: .disconnect)
        } catch {
            throw MQTT5ClientError(.invalidArgument, "DISCONNECT properties: \(error)")
        }
        stop(
            MQTTDisconnectPacket(reasonCode: reason, properties: properties),
            error: MQTT5ClientError(.shutDown, "the client disconnected"), drain: configuration.shutdownDrainTimeout)
        let running = started.withLockedValue { $0 }
        let driver = self.driver
        guard running else {
            try? await eventLoop.submit { driver.value.finish(nil) }.get()
            return
        }
        let promise = eventLoop.makePromise(of: Void.self)
        eventLoop.execute { driver.value.waitUntilStopped(promise) }
        try? await promise.futureResult.get()
    }

    /// What happens to the connection, from the moment of the call on: a new sequence for each call. When
    /// connected already, the first event is `connected`. The sequence keeps the newest 16 events for a slow reader
    /// and ends when the client stops.
    public func connectionEvents() -> AsyncStream<MQTT5ConnectionEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: MQTT5ConnectionEvent.self, bufferingPolicy: .bufferingNewest(16))
        let hub = self.events
        if let id = hub.register(continuation) {
            continuation.onTermination = { _ in hub.unregister(id) }
        }
        return stream
    }

    /// Waits until the client is connected (returns at once when it is); throws `shutDown` when it stops first.
    @discardableResult
    public func waitUntilConnected() async throws(MQTT5ClientError) -> MQTT5ConnectionInfo {
        for await event in connectionEvents() {
            if case .connected(let info) = event { return info }
        }
        throw MQTT5ClientError(.shutDown, "the client stopped before it connected")
    }

    // MARK: Publishing

    /// Publishes a message and returns once it is acknowledged: QoS 0 once written to the connection, QoS 1 on
    /// PUBACK, QoS 2 on PUBCOMP. Waits for a connection, and for room under the server's Receive Maximum.
    ///
    /// - Throws: `publishRefused` with the server's Reason Code; `qosNotSupported`, `retainNotSupported`,
    ///   `packetTooLarge` for what the server's CONNACK forbids; `invalidArgument` for a Topic Name with
    ///   wildcards or properties a client may not send (Topic Alias, Subscription Identifier); `sessionLost`,
    ///   `shutDown`, `cancelled`.
    @discardableResult
    public func publish(
        topic: String,
        payload: ByteBuffer,
        qos: MQTTQoS = .atMostOnce,
        retain: Bool = false,
        properties: MQTTProperties = MQTTProperties()
    ) async throws(MQTT5ClientError) -> MQTTPublishResult {
        let request = nextRequestID()
        let packet = MQTTPublishPacket(
            topicName: topic, payload: payload, qos: qos, retain: retain, properties: properties)
        do {
            return try await withTaskCancellationHandler {
                try await withUnsafeThrowingContinuation { (waiter: MQTT5ClientDriver.PublishWaiter) in
                    // Decided under the inbox's lock, which the cancellation handler takes too: a cancellation
                    // either finds the publish queued or is seen here.
                    let appended = publishInbox.append(
                        .publish(request, packet, waiter), unless: { Task.isCancelled })
                    switch appended {
                    case nil: waiter.resume(throwing: MQTT5ClientError(.cancelled, "the publishing task was cancelled"))
                    case true?: schedulePublishDrain()
                    case false?: break
                    }
                }
            } onCancel: {
                cancelPublish(request)
            }
        } catch let error as MQTT5ClientError {
            throw error
        } catch {
            throw MQTT5ClientError(.connectionFailed, "\(error)")
        }
    }

    /// Publishes a message without waiting for its outcome: returns as soon as the client has accepted it. For
    /// streams of messages whose one-by-one outcome the caller does not need (a QoS 0 feed, say); `publish`, which
    /// returns the outcome, costs a suspension of the calling task per message.
    ///
    /// The message keeps its guarantees: it is sent in order with every other publish, QoS 1 and 2 are sent again
    /// after a reconnect, and `disconnect` gives it `shutdownDrainTimeout` to be acknowledged. Back-pressure: at
    /// most `maximumPendingPublishes` enqueued messages are outstanding (waiting, unwritten or unacknowledged);
    /// beyond that the call waits until no more than half of them are (so that a steady producer wakes once per
    /// half-window, not per message). A failure after acceptance (a refusal by the server, a
    /// packet too large for it, the client stopping first) is logged at debug level and counted in
    /// `failedEnqueuedPublishCount`.
    ///
    /// - Throws: `shutDown` once the client has stopped; `cancelled` when the task is cancelled while waiting for
    ///   room.
    public func enqueuePublish(
        topic: String,
        payload: ByteBuffer,
        qos: MQTTQoS = .atMostOnce,
        retain: Bool = false,
        properties: MQTTProperties = MQTTProperties()
    ) async throws(MQTT5ClientError) {
        try await publishBacklog.acquire()
        let request = nextRequestID() | MQTT5ClientDriver.detachedRequestBit
        let packet = MQTTPublishPacket(
            topicName: topic, payload: payload, qos: qos, retain: retain, properties: properties)
        if publishInbox.append(.publish(request, packet, nil)) { schedulePublishDrain() }
    }

    /// Messages given to `enqueuePublish` that failed after they were accepted.
    public var failedEnqueuedPublishCount: Int { publishBacklog.failedCount }

    /// Has the driver take what the publish inbox holds (called by whoever found it empty).
    private func schedulePublishDrain() {
        let driver = self.driver
        eventLoop.execute { driver.value.drainPublishInbox() }
    }

    /// The publishing task was cancelled: a publish still in the inbox fails at once; otherwise the driver is told.
    private func cancelPublish(_ request: RequestID) {
        let outcome: (waiter: MQTT5ClientDriver.PublishWaiter?, schedule: Bool) = publishInbox.withLockedItems {
            items in
            let index = items.firstIndex {
                if case .publish(request, _, _) = $0 { return true }
                return false
            }
            if let index, case .publish(_, _, let waiter) = items.remove(at: index) { return (waiter, false) }
            items.append(.cancel(request))
            return (nil, items.count == 1)
        }
        outcome.waiter?.resume(throwing: MQTT5ClientError(.cancelled, "the publishing task was cancelled"))
        if outcome.schedule { schedulePublishDrain() }
    }

    // MARK: Subscribing

    /// Subscribes to one or more Topic Filters (shared ones too: `$share/{group}/{filter}`) and returns once the
    /// server granted them all; the returned subscription is the `AsyncSequence` of their messages.
    ///
    /// - Throws: `subscriptionRefused` with the server's Reason Code when it refuses any filter (the others are
    ///   removed again); `invalidArgument` for an invalid filter, or No Local on a shared subscription.
    /// - Parameter acknowledgement: when a QoS 1 or 2 message is acknowledged: as it is read (default), or when the
    ///   consumer calls `acknowledgeRead()`.
    public func subscribe(
        to subscriptions: [MQTTSubscription],
        userProperties: [MQTTUserProperty] = [],
        acknowledgement: MQTT5Subscription.Acknowledgement = .onRead
    ) async throws(MQTT5ClientError) -> MQTT5Subscription {
        let request = nextRequestID()
        let id = counters.withLockedValue { counters in
            // Subscription Identifiers run from 1 to 268,435,455.
            counters.subscription = counters.subscription % 268_435_455 + 1
            return counters.subscription
        }
        let driver = self.driver
        let eventLoop = self.eventLoop
        let buffer = MQTTSubscriptionBuffer(
            capacity: configuration.subscriptionBufferSize,
            hardLimit: configuration.subscriptionBufferSize + Int(configuration.receiveMaximum),
            acknowledgesOnRead: acknowledgement == .onRead
        ) { [takenInbox] delivery in
            if takenInbox.append(delivery) {
                eventLoop.execute { driver.value.drainTakenInbox() }
            }
        }
        let promise = eventLoop.makePromise(of: [MQTTReasonCode].self)
        eventLoop.execute {
            driver.value.subscribe(
                request, id: id, subscriptions: subscriptions, userProperties: userProperties, buffer: buffer,
                promise: promise)
        }
        let granted = try await wait(for: promise.futureResult) {
            eventLoop.execute { driver.value.subscribeCancelled(request) }
        }
        return MQTT5Subscription(
            identifier: id, subscriptions: subscriptions, grantedQoS: granted, buffer: buffer, client: self)
    }

    /// Subscribes to one Topic Filter with a maximum QoS.
    public func subscribe(
        to topicFilter: String, qos: MQTTQoS = .atMostOnce
    ) async throws(MQTT5ClientError)
        -> MQTT5Subscription
    {
        try await subscribe(to: [MQTTSubscription(topicFilter: topicFilter, options: .init(maximumQoS: qos))])
    }

    func unsubscribe(_ id: Int) async throws(MQTT5ClientError) -> [MQTTReasonCode] {
        let request = nextRequestID()
        let promise = eventLoop.makePromise(of: [MQTTReasonCode].self)
        let driver = self.driver
        eventLoop.execute { driver.value.unsubscribe(request, id: id, promise: promise) }
        return try await wait(for: promise.futureResult) {}
    }

    /// A subscription's handle went away without `unsubscribe()`.
    func abandonSubscription(_ id: Int) {
        let driver = self.driver
        eventLoop.execute { driver.value.unsubscribe(nil, id: id, promise: nil) }
    }

    // MARK: Authentication

    /// Re-authenticates on the open connection with the configured authenticator (4.12.1); returns when the
    /// server's AUTH Success arrives.
    public func reauthenticate() async throws(MQTT5ClientError) {
        let promise = eventLoop.makePromise(of: Void.self)
        let driver = self.driver
        eventLoop.execute { driver.value.reauthenticate(promise: promise) }
        try await wait(for: promise.futureResult) {}
    }

    // MARK: Helpers

    typealias RequestID = MQTTSessionStateMachine.RequestID

    private func nextRequestID() -> RequestID {
        counters.withLockedValue { counters in
            counters.request += 1
            return counters.request
        }
    }

    private func wait<Value: Sendable>(
        for future: EventLoopFuture<Value>,
        onCancel: @escaping @Sendable () -> Void
    ) async throws(MQTT5ClientError) -> Value {
        do {
            return try await withTaskCancellationHandler {
                try await future.get()
            } onCancel: {
                onCancel()
            }
        } catch let error as MQTT5ClientError {
            throw error
        } catch {
            throw MQTT5ClientError(.connectionFailed, "\(error)")
        }
    }
}
