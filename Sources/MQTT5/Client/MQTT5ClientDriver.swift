import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// How one connection attempt ended.
struct MQTT5ConnectionOutcome: Sendable {
    /// Whether CONNACK accepted the connection.
    var connected: Bool
    var error: MQTT5ClientError
    /// Whether the client is stopping (`disconnect`, shutdown): no reconnection.
    var stopping: Bool
}

/// The client's state on its event loop: the session state machine, the connection of the moment, the callers
/// waiting for outcomes and the subscriptions' buffers. It carries out the session's actions and passes what the
/// connection handler reports to the session. Everything here runs on `eventLoop`, so nothing is locked.
final class MQTT5ClientDriver {
    typealias RequestID = MQTTSessionStateMachine.RequestID
    typealias SubscriptionID = MQTTSessionStateMachine.SubscriptionID
    /// A `publish` call waiting for its outcome.
    typealias PublishWaiter = UnsafeContinuation<MQTTPublishResult, any Error>

    /// What callers hand the driver through `publishInbox`.
    enum PublishSubmission: Sendable {
        /// Without a waiter: an `enqueuePublish`, which holds a place in `publishBacklog`.
        case publish(RequestID, MQTTPublishPacket, PublishWaiter?)
        case cancel(RequestID)
    }

    /// Marks the request of an `enqueuePublish`, whose outcome nobody waits for: the driver keeps no record of
    /// it, gives its place in `publishBacklog` back when it completes, and counts a failure.
    static let detachedRequestBit: RequestID = 1 << 63

    let configuration: MQTT5ClientConfiguration
    let eventLoop: any EventLoop
    let logger: Logger
    private var session: MQTTSessionStateMachine
    /// The connection being opened or open.
    private var handler: MQTT5ConnectionHandler?
    private var channel: (any Channel)?
    private var attempt: (promise: EventLoopPromise<MQTT5ConnectionOutcome>, connected: Bool)?
    /// Whether a connection has reached CONNACK before: only the first uses the configured Clean Start.
    private var hasConnected = false
    /// The Client Identifier the server assigned (the configured one was empty): reconnections use it, to find
    /// their session.
    private var assignedClientIdentifier: String?
    private(set) var connectionInfo: MQTT5ConnectionInfo?

    /// The `publish` calls waiting for an outcome.
    private var publishes: [RequestID: PublishWaiter] = [:]
    private var subscribes: [RequestID: (promise: EventLoopPromise<[MQTTReasonCode]>, id: SubscriptionID)] = [:]
    private var unsubscribes: [RequestID: EventLoopPromise<[MQTTReasonCode]>] = [:]
    private var buffers: [SubscriptionID: MQTTSubscriptionBuffer] = [:]
    /// Where connection events go; shared with the client, which registers observers on any thread.
    let events = MQTT5ConnectionEventHub()
    /// Publishes (and their cancellations) from any thread; the client schedules `drainPublishInbox`.
    let publishInbox = MQTTEventLoopInbox<PublishSubmission>()
    /// Messages the subscriptions' consumers took; the client schedules `drainTakenInbox`.
    let takenInbox = MQTTEventLoopInbox<MQTTSessionStateMachine.DeliveryID>()
    /// The bound on publishes nobody waits for (`enqueuePublish`).
    let publishBacklog: MQTTPublishBacklog
    /// The batches being worked through, kept for their capacity.
    private var publishBatch: [PublishSubmission] = []
    private var takenBatch: [MQTTSessionStateMachine.DeliveryID] = []
    /// Nesting of `execute` (and of read bursts): packets are written as they are decided, and flushed, in one
    /// write, when the outermost ends.
    private var batchDepth = 0
    private var needsFlush = false
    /// Whether a read burst from the connection is under way (it ends with `sessionReadComplete`).
    private var inReadBurst = false
    /// Subscription buffers given messages in this batch: a reader waiting on one is woken when it ends.
    private var buffersToWake: [MQTTSubscriptionBuffer] = []
    /// Enqueued publishes completed in this batch (and how many failed): their places go back when it ends.
    private var detachedCompleted = 0
    private var detachedFailed = 0
    /// QoS 0 publishes encoded since the last flush: they complete when that write does.
    private var unflushedQoS0: [RequestID] = []

    /// Set once the client is asked to stop: the DISCONNECT to end with, and what waiting callers fail with.
    private(set) var stopRequest: (packet: MQTTDisconnectPacket, error: MQTT5ClientError)?
    private var drainTimer: Scheduled<Void>?
    private var reconnectWait: (timer: Scheduled<Void>, promise: EventLoopPromise<Void>)?
    private var stopWaiters: [EventLoopPromise<Void>] = []
    private(set) var isFinished = false

    init(configuration: MQTT5ClientConfiguration, eventLoop: any EventLoop, logger: Logger) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.logger = logger
        self.session = MQTTSessionStateMachine(configuration: configuration.sessionConfiguration)
        self.publishBacklog = MQTTPublishBacklog(limit: configuration.maximumPendingPublishes)
    }

    private var isStopping: Bool { stopRequest != nil || isFinished }

    private var stoppedError: MQTT5ClientError {
        stopRequest?.error ?? MQTT5ClientError(.shutDown, "the client has stopped")
    }

    // MARK: Connections

    /// Opens a connection; `promise` completes when it ends (or could not be opened).
    func startConnection(sslContext: NIOSSLContext?, promise: EventLoopPromise<MQTT5ConnectionOutcome>) {
        guard !isStopping else {
            promise.succeed(MQTT5ConnectionOutcome(connected: false, error: stoppedError, stopping: true))
            return
        }
        let authenticationData: ByteBuffer?
        do {
            authenticationData = try configuration.authenticator?.initialData()
        } catch {
            let failure = MQTT5ClientError(.authenticationFailed, "the authenticator's initial data: \(error)")
            promise.succeed(MQTT5ConnectionOutcome(connected: false, error: failure, stopping: false))
            return
        }
        attempt = (promise, false)
        let connect = configuration.connectPacket(
            cleanStart: hasConnected ? false : configuration.cleanStart, authenticationData: authenticationData,
            clientIdentifier: assignedClientIdentifier)
        let configuration = self.configuration
        let driver = NIOLoopBound(self, eventLoop: eventLoop)
        let serverHostname = configuration.tlsServerHostname ?? configuration.host
        logger.debug(
            "connecting",
            metadata: [
                "mqtt.server": "\(configuration.host):\(configuration.port)",
                "mqtt.cleanStart": "\(connect.cleanStart)",
            ])
        ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        let hostname = isIPAddressLiteral(serverHostname) ? nil : serverHostname
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: sslContext, serverHostname: hostname))
                    }
                    let handler = MQTT5ConnectionHandler(
                        connect: connect, connectTimeout: configuration.connectTimeout,
                        maximumPacketSize: configuration.maximumPacketSize,
                        authenticator: configuration.authenticator, delegate: driver.value)
                    driver.value.handler = handler
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .assumeIsolated()
            .whenComplete { result in
                let driver = driver.value
                switch result {
                case .success(let channel):
                    driver.channel = channel
                    // Asked to stop while TCP was connecting: the handler reports the close.
                    if driver.isStopping && driver.connectionInfo == nil { channel.close(promise: nil) }
                case .failure(let error):
                    driver.handler = nil
                    let failure = MQTT5ClientError(
                        .connectionFailed, "\(configuration.host):\(configuration.port): \(error)")
                    driver.endAttempt(failure)
                }
            }
    }

    private func endAttempt(_ error: MQTT5ClientError) {
        guard let attempt else { return }
        self.attempt = nil
        if !attempt.connected && !isStopping { notify(.connectionAttemptFailed(error)) }
        attempt.promise.succeed(
            MQTT5ConnectionOutcome(connected: attempt.connected, error: error, stopping: isStopping))
    }

    /// Waits `delay` before the next attempt; returns early when the client stops.
    func waitBeforeReconnecting(_ delay: TimeAmount, promise: EventLoopPromise<Void>) {
        guard !isStopping else {
            promise.succeed()
            return
        }
        let timer = eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            reconnectWait = nil
            promise.succeed()
        }
        reconnectWait = (timer, promise)
    }

    // MARK: Requests

    /// Takes every publish (and cancellation) queued in `publishInbox`; what they make the session send goes out
    /// in one write.
    func drainPublishInbox() {
        publishInbox.take(into: &publishBatch)
        guard !publishBatch.isEmpty else { return }
        batchDepth += 1
        var actions: [MQTTSessionStateMachine.Action] = []
        for submission in publishBatch {
            switch submission {
            case .publish(let request, let packet, let waiter):
                guard !isStopping else {
                    if let waiter {
                        waiter.resume(throwing: stoppedError)
                    } else {
                        completeDetached(.failure(stoppedError))
                    }
                    continue
                }
                if let waiter { publishes[request] = waiter }
                session.publishRequested(request, packet, into: &actions)
            case .cancel(let request):
                execute(actions)
                actions.removeAll(keepingCapacity: true)
                publishCancelled(request)
            }
        }
        execute(actions)
        publishBatch.removeAll(keepingCapacity: true)
        endBatch()
    }

    func publishCancelled(_ request: RequestID) {
        // Only a caller who waits can cancel; an enqueued publish, once accepted, goes on.
        guard let waiter = publishes.removeValue(forKey: request) else { return }
        session.publishCancelled(request)
        waiter.resume(throwing: MQTT5ClientError(.cancelled, "the publishing task was cancelled"))
    }

    func subscribe(
        _ request: RequestID,
        id: SubscriptionID,
        subscriptions: [MQTTSubscription],
        userProperties: [MQTTUserProperty],
        buffer: MQTTSubscriptionBuffer,
        promise: EventLoopPromise<[MQTTReasonCode]>
    ) {
        guard !isStopping else {
            promise.fail(stoppedError)
            return
        }
        buffers[id] = buffer
        subscribes[request] = (promise, id)
        execute(
            session.subscribeRequested(request, id: id, subscriptions: subscriptions, userProperties: userProperties))
    }

    func subscribeCancelled(_ request: RequestID) {
        guard let (promise, id) = subscribes.removeValue(forKey: request) else { return }
        promise.fail(MQTT5ClientError(.cancelled, "the subscribing task was cancelled"))
        unsubscribe(nil, id: id, promise: nil)
    }

    /// Ends subscription `id`: its buffer at once (messages not read are discarded), then on the server.
    func unsubscribe(_ request: RequestID?, id: SubscriptionID, promise: EventLoopPromise<[MQTTReasonCode]>?) {
        var taken: [MQTTSessionStateMachine.DeliveryID] = []
        if let buffer = buffers.removeValue(forKey: id) {
            taken = buffer.finish(.finished, dropMessages: true)
        }
        for delivery in taken { execute(session.messageTaken(delivery)) }
        guard !isFinished else {
            promise?.succeed([])
            return
        }
        if let request, let promise { unsubscribes[request] = promise }
        execute(session.unsubscribeRequested(request, id: id))
    }

    /// Takes every delivery the subscriptions' consumers took since the last time; the acknowledgements they
    /// release go out in one write.
    func drainTakenInbox() {
        takenInbox.take(into: &takenBatch)
        guard !takenBatch.isEmpty else { return }
        batchDepth += 1
        for delivery in takenBatch { execute(session.messageTaken(delivery)) }
        takenBatch.removeAll(keepingCapacity: true)
        endBatch()
    }

    func reauthenticate(promise: EventLoopPromise<Void>) {
        guard let handler, handler.isConnected else {
            promise.fail(MQTT5ClientError(.connectionFailed, "not connected"))
            return
        }
        handler.reauthenticate(promise: promise)
    }

    private func notify(_ event: MQTT5ConnectionEvent) {
        events.publish(event)
    }

    /// Closes the network connection without DISCONNECT, as a lost network would (for tests of the Will Message).
    func closeConnectionAbruptly() {
        channel?.close(promise: nil)
    }

    /// Whether the server has granted subscription `id` on the current connection (for tests).
    func isSubscriptionActive(_ id: SubscriptionID) -> Bool {
        session.subscriptions[id]?.stage == .active
    }

    /// Publishes waiting to be sent (for tests).
    var pendingPublishCount: Int { session.pendingPublishes.count }

    /// Topic Aliases the client assigned on the current connection.
    var outboundTopicAliasCount: Int { session.connection?.outboundAliases.count ?? 0 }

    // MARK: Stopping

    /// Stops the client: no new requests; once publishes in flight are acknowledged (for at most `drain`), the
    /// connection ends with `packet`, and the run loop does not reconnect.
    func stop(_ packet: MQTTDisconnectPacket, error: MQTT5ClientError, drain: TimeAmount) {
        guard !isStopping else { return }
        stopRequest = (packet, error)
        if let (timer, promise) = reconnectWait {
            timer.cancel()
            promise.succeed()
            reconnectWait = nil
        }
        guard let handler else { return }
        if handler.isConnected && session.hasOutstandingPublishes && drain > .zero {
            logger.debug("draining publishes before disconnecting")
            drainTimer = eventLoop.assumeIsolated().scheduleTask(in: drain) { [self] in
                drainTimer = nil
                disconnectNow()
            }
        } else {
            disconnectNow()
        }
    }

    private func disconnectNow() {
        drainTimer?.cancel()
        drainTimer = nil
        guard let stopRequest else { return }
        if let handler {
            handler.disconnect(stopRequest.packet, error: stopRequest.error)
        } else {
            channel?.close(promise: nil)
        }
    }

    /// Completes when the run loop has finished.
    func waitUntilStopped(_ promise: EventLoopPromise<Void>) {
        if isFinished { promise.succeed() } else { stopWaiters.append(promise) }
    }

    /// The run loop ended: every waiting caller fails, subscriptions end (with `error` if it is a failure).
    func finish(_ error: MQTT5ClientError?) {
        guard !isFinished else { return }
        isFinished = true
        let failure = error ?? stoppedError
        execute(session.shutDown(failure))
        for waiter in publishes.values { waiter.resume(throwing: failure) }
        publishBacklog.close(failure)
        for (promise, _) in subscribes.values { promise.fail(failure) }
        for promise in unsubscribes.values { promise.fail(failure) }
        publishes = [:]
        subscribes = [:]
        unsubscribes = [:]
        for buffer in buffers.values {
            _ = buffer.finish(error.map { .failed($0) } ?? .finished, dropMessages: false)
        }
        buffers = [:]
        events.finish()
        for waiter in stopWaiters { waiter.succeed() }
        stopWaiters = []
    }

    // MARK: Session actions

    private func execute(_ actions: [MQTTSessionStateMachine.Action]) {
        guard !actions.isEmpty else { return }
        batchDepth += 1
        var taken: [MQTTSessionStateMachine.DeliveryID] = []
        for action in actions {
            switch action {
            case .send(let packet):
                guard let handler else { continue }
                _ = handler.send(packet, flush: false)
                needsFlush = true
            case .sendQoS0(let packet, let request):
                guard let handler else {
                    complete(request, .failure(MQTT5ClientError(.connectionFailed, "not connected")))
                    continue
                }
                if let error = handler.send(.publish(packet), flush: false) {
                    complete(request, .failure(error))
                } else {
                    needsFlush = true
                    if Self.isDetached(request) || publishes[request] != nil { unflushedQoS0.append(request) }
                }
            case .completePublish(let request, let result):
                complete(request, result)
            case .completeSubscribe(let request, let result):
                guard let (promise, id) = subscribes.removeValue(forKey: request) else { continue }
                switch result {
                case .success(let codes):
                    promise.succeed(codes)
                case .failure(let error):
                    if let buffer = buffers.removeValue(forKey: id) {
                        taken += buffer.finish(.failed(error), dropMessages: true)
                    }
                    promise.fail(error)
                }
            case .completeUnsubscribe(let request, let result):
                unsubscribes.removeValue(forKey: request)?.completeWith(result.mapError { $0 as any Error })
            case .deliver(let message, let targets, let delivery):
                for target in targets {
                    guard let buffer = buffers[target] else {
                        if let delivery { taken.append(delivery) }
                        continue
                    }
                    let (dropped, handedOver) = buffer.pushDeferringWake(
                        message, delivery: delivery, sessionStart: session.sessionStart)
                    if let dropped { taken.append(dropped) }
                    if let handedOver { taken.append(handedOver) }
                    // A reader still waiting is woken once, when the batch ends.
                    if buffersToWake.last !== buffer { buffersToWake.append(buffer) }
                }
            case .finishSubscription(let id, let error):
                logger.warning(
                    "subscription ended by the server", metadata: ["mqtt.subscription": "\(id)", "error": "\(error)"])
                if let buffer = buffers.removeValue(forKey: id) {
                    taken += buffer.finish(.failed(error), dropMessages: false)
                }
            case .protocolViolation(let error):
                logger.debug("protocol violation by the server", metadata: ["error": "\(error)"])
                handler?.protocolViolation(error)
            }
        }
        for delivery in taken { execute(session.messageTaken(delivery)) }
        endBatch()
    }

    /// Ends one level of batching; the outermost writes what was encoded, in one write, and completes the QoS 0
    /// publishes in it once the write does.
    private func endBatch() {
        if batchDepth == 1 && !buffersToWake.isEmpty {
            // Readers take their first message now; what that releases (acknowledgements) joins this batch.
            let buffers = buffersToWake
            buffersToWake = []
            for buffer in buffers {
                for delivery in buffer.wakeReaders() { execute(session.messageTaken(delivery)) }
            }
        }
        batchDepth -= 1
        guard batchDepth == 0 else { return }
        if needsFlush {
            needsFlush = false
            let written = unflushedQoS0
            unflushedQoS0 = []
            if written.isEmpty {
                handler?.flush()
            } else if let handler {
                let promise = eventLoop.makePromise(of: Void.self)
                handler.flush(promise: promise)
                promise.futureResult.assumeIsolated().whenComplete { [self] result in
                    let outcome: Result<MQTTPublishResult, MQTT5ClientError> = result.map { MQTTPublishResult() }
                        .mapError { $0 as? MQTT5ClientError ?? MQTT5ClientError(.connectionFailed, "\($0)") }
                    var detached = 0
                    for request in written {
                        if Self.isDetached(request) { detached += 1 } else { complete(request, outcome) }
                    }
                    completeDetached(outcome, count: detached)
                }
            } else {
                for request in written {
                    complete(request, .failure(MQTT5ClientError(.connectionFailed, "the connection is closed")))
                }
            }
        }
        releaseDetached()
        handler?.setReadingPaused(session.isOverReceiveMaximum)
        if drainTimer != nil && !session.hasOutstandingPublishes { disconnectNow() }
    }

    /// Whether the client stopped reading because the server sent more than the Receive Maximum.
    var isReadingPaused: Bool { handler?.isReadingPaused ?? false }

    private func complete(_ request: RequestID, _ result: Result<MQTTPublishResult, MQTT5ClientError>) {
        if Self.isDetached(request) {
            completeDetached(result)
        } else {
            publishes.removeValue(forKey: request)?.resume(with: result.mapError { $0 as any Error })
        }
    }

    /// `count` enqueued publishes completed with `result`; their places are given back when the batch ends.
    private func completeDetached(_ result: Result<MQTTPublishResult, MQTT5ClientError>, count: Int = 1) {
        guard count > 0 else { return }
        detachedCompleted += count
        if case .failure(let error) = result {
            logger.debug("enqueued publishes failed", metadata: ["error": "\(error)", "mqtt.count": "\(count)"])
            detachedFailed += count
        }
        if batchDepth == 0 { releaseDetached() }
    }

    private func releaseDetached() {
        guard detachedCompleted > 0 else { return }
        publishBacklog.release(completed: detachedCompleted, failed: detachedFailed)
        detachedCompleted = 0
        detachedFailed = 0
    }

    private static func isDetached(_ request: RequestID) -> Bool { request & detachedRequestBit != 0 }
}

extension MQTT5ClientDriver: MQTT5ConnectionHandlerDelegate {
    func connectionEstablished(_ handler: MQTT5ConnectionHandler, info: MQTT5ConnectionInfo) {
        guard handler === self.handler else { return }
        hasConnected = true
        if info.clientIdentifierAssigned { assignedClientIdentifier = info.clientIdentifier }
        attempt?.connected = true
        connectionInfo = info
        logger.debug(
            "connected",
            metadata: [
                "mqtt.sessionPresent": "\(info.sessionPresent)", "mqtt.clientIdentifier": "\(info.clientIdentifier)",
                "mqtt.receiveMaximum": "\(info.receiveMaximum)",
            ])
        if isStopping {
            disconnectNow()
            return
        }
        notify(.connected(info))
        execute(session.connectionEstablished(info))
    }

    func sessionPacketReceived(_ handler: MQTT5ConnectionHandler, _ packet: MQTTPacket) {
        guard handler === self.handler else { return }
        if !inReadBurst {
            // What the packets of one read answer (acknowledgements, publishes a PUBACK made room for) goes out in
            // one write when the read completes.
            inReadBurst = true
            batchDepth += 1
        }
        execute(session.packetReceived(packet))
    }

    func sessionReadComplete(_ handler: MQTT5ConnectionHandler) {
        guard handler === self.handler else { return }
        endReadBurst()
    }

    private func endReadBurst() {
        guard inReadBurst else { return }
        inReadBurst = false
        endBatch()
    }

    func connectionClosed(_ handler: MQTT5ConnectionHandler, error: MQTT5ClientError) {
        guard handler === self.handler else { return }
        endReadBurst()
        self.handler = nil
        channel = nil
        if connectionInfo != nil {
            connectionInfo = nil
            session.connectionLost()
            notify(.disconnected(error))
        }
        logger.debug("connection ended", metadata: ["error": "\(error)"])
        if drainTimer != nil {
            drainTimer?.cancel()
            drainTimer = nil
        }
        endAttempt(error)
    }
}

/// Whether `host` is an IP literal (TLS sends no SNI for those).
private func isIPAddressLiteral(_ host: String) -> Bool {
    (try? SocketAddress(ipAddress: host, port: 0)) != nil
}
