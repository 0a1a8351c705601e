import NIOCore

/// What the connection handler tells the client about: the connection's start and end, and the packets for the
/// session. Called on the connection's event loop.
protocol MQTT5ConnectionHandlerDelegate: AnyObject {
    func connectionEstablished(_ handler: MQTT5ConnectionHandler, info: MQTT5ConnectionInfo)
    func sessionPacketReceived(_ handler: MQTT5ConnectionHandler, _ packet: MQTTPacket)
    /// The packets of one read from the socket have all been handed on.
    func sessionReadComplete(_ handler: MQTT5ConnectionHandler)
    func connectionClosed(_ handler: MQTT5ConnectionHandler, error: MQTT5ClientError)
}

/// Carries out what `MQTTConnectionStateMachine` decides for one connection: writes packets, runs the connect and
/// keep-alive timers, calls the authenticator, and hands session packets to the delegate. It reads bytes and runs
/// the `MQTTPacketDecoder` itself (rather than after a `ByteToMessageHandler`), so that a packet does not pass
/// through the pipeline boxed as `NIOAny`; it writes bytes, encoding each packet within the server's
/// Maximum Packet Size. Packets are encoded one after the other into one buffer, which a flush writes whole.
///
/// It also pauses reading on request: while paused, `read` events are held back, so the socket is not read and
/// the server's TCP send buffer fills.
final class MQTT5ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    private var stateMachine: MQTTConnectionStateMachine
    private var decoder: NIOSingleStepByteToMessageProcessor<MQTTPacketDecoder>
    /// Set once the bytes did not decode: what follows them is not read.
    private var decodingFailed = false
    private let authenticator: (any MQTT5Authenticator)?
    private var delegate: (any MQTT5ConnectionHandlerDelegate)?
    private var context: ChannelHandlerContext?
    private var connectTimer: Scheduled<Void>?
    private var keepAliveTimer: Scheduled<Void>?
    private var closeTimer: Scheduled<Void>?
    /// The largest packet the server accepts, known from CONNACK.
    private var serverMaximumPacketSize = MQTTPacketDecoder.protocolMaximumPacketSize
    private var reauthentication: EventLoopPromise<Void>?
    private var readingPaused = false
    /// A `read` held back while paused.
    private var readPending = false
    /// Packets encoded and not yet written: a flush writes them in one buffer.
    private var outbound: ByteBuffer?

    init(
        connect: MQTTConnectPacket,
        connectTimeout: TimeAmount,
        maximumPacketSize: Int,
        authenticator: (any MQTT5Authenticator)?,
        delegate: any MQTT5ConnectionHandlerDelegate
    ) {
        self.stateMachine = MQTTConnectionStateMachine(connect: connect, connectTimeout: connectTimeout)
        self.decoder = NIOSingleStepByteToMessageProcessor(MQTTPacketDecoder(maximumPacketSize: maximumPacketSize))
        self.authenticator = authenticator
        self.delegate = delegate
    }

    var isConnected: Bool { stateMachine.isConnected }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive {
            run(stateMachine.channelActive(now: .now()))
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        run(stateMachine.channelActive(now: .now()))
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !decodingFailed else { return }
        // Every packet of one read arrived at the same moment, as far as keep-alive is concerned.
        let now = NIODeadline.now()
        do {
            try decoder.process(buffer: unwrapInboundIn(data)) { packet in
                run(stateMachine.packetReceived(packet, now: now))
            }
        } catch {
            decodingFailed = true
            errorCaught(context: context, error: error)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.sessionReadComplete(self)
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let protocolError = error as? MQTTProtocolError {
            run(stateMachine.protocolViolation(protocolError))
        } else {
            run(stateMachine.networkErrorCaught("\(error)"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        let error = stateMachine.channelInactive()
        reauthentication?.fail(error)
        reauthentication = nil
        let delegate = self.delegate
        self.delegate = nil
        delegate?.connectionClosed(self, error: error)
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        if readingPaused {
            readPending = true
        } else {
            context.read()
        }
    }

    // MARK: Requests from the client

    /// Stops or resumes reading from the connection.
    func setReadingPaused(_ paused: Bool) {
        guard paused != readingPaused, let context else { return }
        readingPaused = paused
        if paused {
            stateMachine.readingPaused(now: .now())
        } else {
            run(stateMachine.readingResumed(now: .now()))
            if readPending {
                readPending = false
                context.read()
            }
        }
    }

    var isReadingPaused: Bool { readingPaused }

    /// Encodes `packet` for the next flush (and flushes unless `flush` is false); the promise completes when it
    /// is written. Returns why it cannot be sent: nothing is written once the connection is closing (after a
    /// DISCONNECT, nothing may follow), nor a packet above the server's Maximum Packet Size.
    @discardableResult
    func send(
        _ packet: MQTTPacket, promise: EventLoopPromise<Void>? = nil, flush: Bool = true
    ) -> MQTT5ClientError? {
        guard stateMachine.isOpen else {
            let error = MQTT5ClientError(.connectionFailed, "the connection is closing")
            promise?.fail(error)
            return error
        }
        return write(packet, promise: promise, flush: flush)
    }

    @discardableResult
    private func write(
        _ packet: MQTTPacket, promise: EventLoopPromise<Void>? = nil, flush: Bool = true
    ) -> MQTT5ClientError? {
        guard let context else {
            let error = MQTT5ClientError(.connectionFailed, "the connection is closed")
            promise?.fail(error)
            return error
        }
        var buffer = outbound ?? context.channel.allocator.buffer(capacity: 16_384)
        outbound = nil
        do throws(MQTTProtocolError) {
            try packet.writeFitting(into: &buffer, maximumPacketSize: serverMaximumPacketSize)
        } catch {
            outbound = buffer
            let failure = MQTT5ClientError(
                error.code == .packetTooLarge ? .packetTooLarge : .invalidArgument, "\(error)")
            promise?.fail(failure)
            return failure
        }
        outbound = buffer
        if let promise {
            // Written at once with what is queued before it, so that the promise stands for this packet.
            self.flush(promise: promise)
        } else if flush {
            self.flush()
        }
        return nil
    }

    /// Writes the packets encoded so far in one buffer and flushes; `promise` completes when they (and everything
    /// written before) are written.
    func flush(promise: EventLoopPromise<Void>? = nil) {
        guard let context else {
            outbound = nil
            promise?.fail(MQTT5ClientError(.connectionFailed, "the connection is closed"))
            return
        }
        guard let buffer = outbound, buffer.readableBytes > 0 else {
            // What was encoded went out with an earlier write: an empty write completes after it, in order.
            if let promise {
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: promise)
            }
            return
        }
        outbound = nil
        stateMachine.packetSent(now: .now())
        context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
    }

    /// The session found a protocol violation in what the server sent.
    func protocolViolation(_ error: MQTTProtocolError) {
        run(stateMachine.protocolViolation(error))
    }

    /// The application ends the connection with `packet`.
    func disconnect(_ packet: MQTTDisconnectPacket, error: MQTT5ClientError) {
        run(stateMachine.disconnectRequested(packet, error: error))
    }

    /// Starts a re-authentication; `promise` completes when the server's AUTH Success arrives.
    func reauthenticate(promise: EventLoopPromise<Void>) {
        guard let authenticator, stateMachine.isConnected, reauthentication == nil else {
            promise.fail(
                MQTT5ClientError(
                    .invalidArgument,
                    authenticator == nil
                        ? "re-authentication needs an authenticator" : "no connection, or a re-authentication under way"
                ))
            return
        }
        let data: ByteBuffer?
        do {
            data = try authenticator.initialData()
        } catch {
            promise.fail(MQTT5ClientError(.authenticationFailed, "the authenticator's initial data: \(error)"))
            return
        }
        reauthentication = promise
        run(stateMachine.reauthenticationRequested(data: data))
    }

    // MARK: Actions

    private func run(_ action: MQTTConnectionStateMachine.Action) {
        guard let context else { return }
        switch action {
        case .none:
            break
        case .sendConnect(let connect, let timeoutAt):
            write(.connect(connect))
            connectTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: timeoutAt) { [weak self] in
                guard let self else { return }
                self.run(self.stateMachine.connectTimeoutFired(now: .now()))
            }
        case .send(let packet):
            send(packet)
        case .sendPingRequest(let nextCheck):
            send(.pingReq)
            scheduleKeepAliveCheck(at: nextCheck)
        case .scheduleKeepAliveCheck(let deadline):
            scheduleKeepAliveCheck(at: deadline)
        case .connected(let info, let keepAliveCheck):
            connectTimer?.cancel()
            connectTimer = nil
            serverMaximumPacketSize = info.maximumPacketSize
            if let authenticator {
                do {
                    try authenticator.completed(with: info.authenticationData)
                } catch {
                    run(stateMachine.authenticationFailed("the server's authentication did not verify: \(error)"))
                    return
                }
            }
            if let keepAliveCheck { scheduleKeepAliveCheck(at: keepAliveCheck) }
            delegate?.connectionEstablished(self, info: info)
        case .authenticate(let challenge):
            guard let authenticator else { return }
            do {
                let answer = try authenticator.respond(to: challenge)
                run(stateMachine.authenticationResponded(data: answer))
            } catch {
                run(stateMachine.authenticationFailed("the authenticator could not answer: \(error)"))
            }
        case .reauthenticated(let data):
            do {
                try authenticator?.completed(with: data)
                reauthentication?.succeed()
                reauthentication = nil
            } catch {
                run(stateMachine.authenticationFailed("the server's re-authentication did not verify: \(error)"))
            }
        case .forward(let packet):
            delegate?.sessionPacketReceived(self, packet)
        case .close:
            context.close(promise: nil)
        case .disconnect(let packet, _):
            let written = context.eventLoop.makePromise(of: Void.self)
            write(.disconnect(packet), promise: written)
            // Closed once the DISCONNECT is written, or after a second if the peer does not read.
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) {
                context.close(promise: nil)
            }
        }
    }

    private func scheduleKeepAliveCheck(at deadline: NIODeadline) {
        guard let context else { return }
        keepAliveTimer?.cancel()
        keepAliveTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            guard let self else { return }
            self.keepAliveTimer = nil
            self.run(self.stateMachine.keepAliveTimerFired(now: .now()))
        }
    }

    private func cancelTimers() {
        connectTimer?.cancel()
        keepAliveTimer?.cancel()
        closeTimer?.cancel()
        connectTimer = nil
        keepAliveTimer = nil
        closeTimer = nil
    }
}
