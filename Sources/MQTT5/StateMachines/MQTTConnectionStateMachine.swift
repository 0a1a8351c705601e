import NIOCore

/// One network connection's life, as a pure value: CONNECT and CONNACK (with enhanced authentication), keep-alive,
/// re-authentication, DISCONNECT in either direction, and protocol violations. Each method is an event and returns
/// the one ``Action`` to carry out; the time is always passed in, so tests drive it with a manual clock.
///
/// What happens to messages (PUBLISH and its acknowledgements, SUBACK, UNSUBACK) is not decided here: once
/// connected, those packets are handed on (``Action/forward(_:)``) to the session state machine, which outlives
/// connections.
///
/// Keep-alive: the client sends PINGREQ when it has sent nothing for the Keep Alive, or received nothing for the
/// Keep Alive, and no PINGREQ is outstanding. A server that sends nothing at all for 1.5 times the Keep Alive is
/// taken for dead and the connection is closed (``MQTT5ClientError/Code/keepAliveTimeout``), without DISCONNECT:
/// a client may not send Keep Alive timeout (0x8D), and a dead peer would not read it. So a healthy server always
/// has at least half the Keep Alive to answer a PINGREQ. The server's Server Keep Alive replaces the client's.
struct MQTTConnectionStateMachine {
    /// What the driver does next.
    enum Action: Hashable, Sendable {
        /// Nothing (an event that changed only the state, or no longer matters).
        case none
        /// Writes the CONNECT; calls `connectTimeoutFired` at the deadline.
        case sendConnect(MQTTConnectPacket, timeoutAt: NIODeadline)
        /// Writes the packet (an AUTH).
        case send(MQTTPacket)
        /// Writes a PINGREQ; calls `keepAliveTimerFired` at the deadline.
        case sendPingRequest(nextCheckAt: NIODeadline)
        /// Calls `keepAliveTimerFired` at the deadline.
        case scheduleKeepAliveCheck(at: NIODeadline)
        /// The CONNACK accepted the connection: the session can start. With enhanced authentication, the driver
        /// first calls the authenticator's `completed(with: info.authenticationData)`. When a deadline is given,
        /// calls `keepAliveTimerFired` then.
        case connected(MQTT5ConnectionInfo, keepAliveCheckAt: NIODeadline?)
        /// Asks the authenticator to answer `challenge`; reports `authenticationResponded` or
        /// `authenticationFailed`.
        case authenticate(challenge: ByteBuffer?)
        /// A re-authentication succeeded: the driver calls the authenticator's `completed(with:)`.
        case reauthenticated(ByteBuffer?)
        /// A packet for the session state machine.
        case forward(MQTTPacket)
        /// Closes the connection without DISCONNECT; the connection ends with this error.
        case close(MQTT5ClientError)
        /// Writes the DISCONNECT, then closes the connection; the connection ends with this error.
        case disconnect(MQTTDisconnectPacket, MQTT5ClientError)
    }

    /// Keep-alive bookkeeping of an open connection.
    struct KeepAlive: Hashable, Sendable {
        /// nil: keep-alive is off.
        var interval: TimeAmount?
        var lastSent: NIODeadline
        var lastReceived: NIODeadline
        var pingOutstanding = false
        /// The client stopped reading (its consumers are behind): silence proves nothing about the server then.
        var readingPaused = false

        /// When a PINGREQ is due: the Keep Alive after the last packet sent or received, whichever is earlier.
        func pingDue(_ interval: TimeAmount) -> NIODeadline {
            min(lastSent, lastReceived) + interval
        }

        /// When the server counts as dead: 1.5 times the Keep Alive after the last packet received.
        func deadline(_ interval: TimeAmount) -> NIODeadline {
            lastReceived + interval + .nanoseconds(interval.nanoseconds / 2)
        }

        var nextCheck: NIODeadline? {
            guard let interval else { return nil }
            if readingPaused { return pingOutstanding ? nil : pingDue(interval) }
            return pingOutstanding ? deadline(interval) : min(pingDue(interval), deadline(interval))
        }
    }

    enum State: Hashable, Sendable {
        /// The network connection is not open yet.
        case initial
        /// CONNECT is written; waiting for CONNACK, perhaps through an enhanced authentication exchange.
        case connecting(lastSent: NIODeadline, connectTimeoutAt: NIODeadline)
        case connected(KeepAlive, reauthenticating: Bool)
        /// The connection is being closed with this error; waiting for the channel to go inactive.
        case closing(MQTT5ClientError)
        case closed
    }

    private(set) var state: State = .initial
    /// The CONNECT this connection opens with.
    let connect: MQTTConnectPacket
    let connectTimeout: TimeAmount

    /// - Parameters:
    ///   - connect: The CONNECT to send; its Authentication Method, if any, names the enhanced authentication.
    ///   - connectTimeout: How long to wait for CONNACK once the network connection is open.
    init(connect: MQTTConnectPacket, connectTimeout: TimeAmount) {
        self.connect = connect
        self.connectTimeout = connectTimeout
    }

    private var authenticationMethod: String? { connect.properties.authenticationMethod }

    /// Whether packets may still be written: CONNECT is sent and the connection is not closing.
    var isOpen: Bool {
        switch state {
        case .connecting, .connected: return true
        case .initial, .closing, .closed: return false
        }
    }

    /// Whether CONNACK accepted the connection and it is not closing.
    var isConnected: Bool {
        if case .connected = state { return true }
        return false
    }

    // MARK: Events

    /// The network connection (TCP, and TLS if configured) is open.
    mutating func channelActive(now: NIODeadline) -> Action {
        guard case .initial = state else { return .none }
        let deadline = now + connectTimeout
        state = .connecting(lastSent: now, connectTimeoutAt: deadline)
        return .sendConnect(connect, timeoutAt: deadline)
    }

    /// A packet was written to the connection.
    mutating func packetSent(now: NIODeadline) {
        switch state {
        case .connecting(_, let deadline):
            state = .connecting(lastSent: now, connectTimeoutAt: deadline)
        case .connected(var keepAlive, let reauthenticating):
            keepAlive.lastSent = now
            state = .connected(keepAlive, reauthenticating: reauthenticating)
        case .initial, .closing, .closed:
            break
        }
    }

    /// A whole packet arrived from the server.
    mutating func packetReceived(_ packet: MQTTPacket, now: NIODeadline) -> Action {
        switch state {
        case .initial, .closing, .closed:
            return .none
        case .connecting:
            return connectingPacketReceived(packet, now: now)
        case .connected(var keepAlive, let reauthenticating):
            keepAlive.lastReceived = now
            state = .connected(keepAlive, reauthenticating: reauthenticating)
            return connectedPacketReceived(packet, keepAlive: keepAlive, reauthenticating: reauthenticating)
        }
    }

    private mutating func connectingPacketReceived(_ packet: MQTTPacket, now: NIODeadline) -> Action {
        switch packet {
        case .connAck(let connAck):
            guard connAck.reasonCode == .success else {
                let error = MQTT5ClientError.server(
                    .connectionRefused, "the server refused the connection", reasonCode: connAck.reasonCode,
                    properties: connAck.properties)
                state = .closing(error)
                return .close(error)
            }
            if let method = connAck.properties.authenticationMethod, method != authenticationMethod {
                return violation("CONNACK names the Authentication Method '\(method)', the CONNECT did not")
            }
            let info = MQTT5ConnectionInfo(connAck: connAck, connect: connect)
            let interval: TimeAmount? = info.keepAlive == 0 ? nil : .seconds(Int64(info.keepAlive))
            let lastSent: NIODeadline
            if case .connecting(let sent, _) = state { lastSent = sent } else { lastSent = now }
            let keepAlive = KeepAlive(interval: interval, lastSent: lastSent, lastReceived: now)
            state = .connected(keepAlive, reauthenticating: false)
            return .connected(info, keepAliveCheckAt: keepAlive.nextCheck)
        case .auth(let auth):
            return authReceived(auth, reauthenticating: true)
        case .disconnect(let disconnect):
            return serverDisconnected(disconnect)
        default:
            return violation("a \(packet.type) before CONNACK")
        }
    }

    private mutating func connectedPacketReceived(
        _ packet: MQTTPacket,
        keepAlive: KeepAlive,
        reauthenticating: Bool
    ) -> Action {
        switch packet {
        case .publish, .pubAck, .pubRec, .pubRel, .pubComp, .subAck, .unsubAck:
            return .forward(packet)
        case .pingResp:
            var keepAlive = keepAlive
            keepAlive.pingOutstanding = false
            state = .connected(keepAlive, reauthenticating: reauthenticating)
            return .none
        case .disconnect(let disconnect):
            return serverDisconnected(disconnect)
        case .auth(let auth):
            return authReceived(auth, reauthenticating: reauthenticating)
        case .connAck:
            return violation("a second CONNACK")
        case .connect, .subscribe, .unsubscribe, .pingReq:
            return violation("a \(packet.type), which only a client sends")
        }
    }

    /// AUTH from the server: a challenge (Continue authentication) or, during re-authentication, Success.
    private mutating func authReceived(_ auth: MQTTAuthPacket, reauthenticating: Bool) -> Action {
        guard let method = authenticationMethod else {
            return violation("AUTH without enhanced authentication in the CONNECT")
        }
        guard auth.properties.authenticationMethod == method else {
            return violation(
                "AUTH names the Authentication Method '\(auth.properties.authenticationMethod ?? "")', not '\(method)'"
            )
        }
        guard reauthenticating else { return violation("AUTH while no authentication is under way") }
        switch auth.reasonCode {
        case .continueAuthentication:
            return .authenticate(challenge: auth.properties.authenticationData)
        case .success:
            // Success ends a re-authentication; the first authentication ends with CONNACK instead.
            guard case .connected(let keepAlive, _) = state else {
                return violation("AUTH Success before CONNACK")
            }
            state = .connected(keepAlive, reauthenticating: false)
            return .reauthenticated(auth.properties.authenticationData)
        default:
            return violation("AUTH with \(auth.reasonCode), which only a client sends")
        }
    }

    private mutating func serverDisconnected(_ disconnect: MQTTDisconnectPacket) -> Action {
        let error = MQTT5ClientError.server(
            .serverDisconnected, "the server closed the connection", reasonCode: disconnect.reasonCode,
            properties: disconnect.properties)
        state = .closing(error)
        return .close(error)
    }

    private mutating func violation(_ detail: String) -> Action {
        protocolViolation(MQTTProtocolError(.inconsistentFields, detail))
    }

    /// The server broke the protocol: a packet that could not be decoded, or one the client may not receive now.
    /// Answered with DISCONNECT carrying the error's Reason Code (4.13), then the connection is closed.
    mutating func protocolViolation(_ error: MQTTProtocolError) -> Action {
        switch state {
        case .initial, .connecting, .connected:
            let clientError = MQTT5ClientError.protocolViolation(error)
            state = .closing(clientError)
            return .disconnect(MQTTDisconnectPacket(reasonCode: error.clientDisconnectReason), clientError)
        case .closing, .closed:
            return .none
        }
    }

    /// The connect timeout set by `sendConnect` ran out.
    mutating func connectTimeoutFired(now: NIODeadline) -> Action {
        guard case .connecting(_, let deadline) = state, now >= deadline else { return .none }
        let error = MQTT5ClientError(.timedOut, "no CONNACK within \(connectTimeout)")
        state = .closing(error)
        return .close(error)
    }

    /// The keep-alive timer ran out.
    mutating func keepAliveTimerFired(now: NIODeadline) -> Action {
        guard case .connected(var keepAlive, let reauthenticating) = state, let interval = keepAlive.interval else {
            return .none
        }
        if !keepAlive.readingPaused && now >= keepAlive.deadline(interval) {
            let error = MQTT5ClientError(
                .keepAliveTimeout, "nothing received from the server for 1.5 × the Keep Alive of \(interval)")
            state = .closing(error)
            return .close(error)
        }
        if !keepAlive.pingOutstanding && now >= keepAlive.pingDue(interval) {
            keepAlive.pingOutstanding = true
            keepAlive.lastSent = now
            state = .connected(keepAlive, reauthenticating: reauthenticating)
            return keepAlive.nextCheck.map { .sendPingRequest(nextCheckAt: $0) } ?? .send(.pingReq)
        }
        return keepAlive.nextCheck.map { .scheduleKeepAliveCheck(at: $0) } ?? .none
    }

    /// The client stopped reading from the connection: the dead-peer check waits until it reads again.
    mutating func readingPaused(now: NIODeadline) {
        guard case .connected(var keepAlive, let reauthenticating) = state else { return }
        keepAlive.readingPaused = true
        state = .connected(keepAlive, reauthenticating: reauthenticating)
    }

    /// The client reads again: the server's silence counts from now. Returns the keep-alive check to schedule.
    mutating func readingResumed(now: NIODeadline) -> Action {
        guard case .connected(var keepAlive, let reauthenticating) = state, keepAlive.readingPaused else {
            return .none
        }
        keepAlive.readingPaused = false
        keepAlive.lastReceived = max(keepAlive.lastReceived, now)
        state = .connected(keepAlive, reauthenticating: reauthenticating)
        return keepAlive.nextCheck.map { .scheduleKeepAliveCheck(at: $0) } ?? .none
    }

    /// The authenticator answered a challenge.
    mutating func authenticationResponded(data: ByteBuffer?) -> Action {
        guard let method = authenticationMethod else { return .none }
        switch state {
        case .connecting, .connected(_, reauthenticating: true):
            var properties = MQTTProperties()
            properties.authenticationMethod = method
            properties.authenticationData = data
            return .send(.auth(MQTTAuthPacket(reasonCode: .continueAuthentication, properties: properties)))
        default:
            return .none
        }
    }

    /// The authenticator refused: it could not answer, or the server's final data did not verify.
    mutating func authenticationFailed(_ detail: String) -> Action {
        switch state {
        case .connecting, .connected:
            let error = MQTT5ClientError(.authenticationFailed, detail)
            state = .closing(error)
            return .disconnect(MQTTDisconnectPacket(reasonCode: .unspecifiedError), error)
        case .initial, .closing, .closed:
            return .none
        }
    }

    /// The application asks to re-authenticate (4.12.1) with `data` from the authenticator.
    mutating func reauthenticationRequested(data: ByteBuffer?) -> Action {
        guard let method = authenticationMethod, case .connected(let keepAlive, reauthenticating: false) = state
        else { return .none }
        state = .connected(keepAlive, reauthenticating: true)
        var properties = MQTTProperties()
        properties.authenticationMethod = method
        properties.authenticationData = data
        return .send(.auth(MQTTAuthPacket(reasonCode: .reAuthenticate, properties: properties)))
    }

    /// The application closes the connection with `packet` (Normal disconnection, or Disconnect with Will Message).
    mutating func disconnectRequested(_ packet: MQTTDisconnectPacket, error: MQTT5ClientError) -> Action {
        switch state {
        case .initial:
            state = .closing(error)
            return .close(error)
        case .connecting, .connected:
            state = .closing(error)
            return .disconnect(packet, error)
        case .closing, .closed:
            return .none
        }
    }

    /// The network failed (a read or write error, a TLS failure): the connection is closed.
    mutating func networkErrorCaught(_ detail: String) -> Action {
        switch state {
        case .initial, .connecting, .connected:
            let error = MQTT5ClientError(.connectionFailed, detail)
            state = .closing(error)
            return .close(error)
        case .closing, .closed:
            return .none
        }
    }

    /// The network connection is closed. Returns why the connection ended.
    mutating func channelInactive() -> MQTT5ClientError {
        let error: MQTT5ClientError
        switch state {
        case .closing(let reason): error = reason
        case .initial, .connecting: error = MQTT5ClientError(.connectionFailed, "the connection closed before CONNACK")
        case .connected: error = MQTT5ClientError(.connectionFailed, "the connection closed")
        case .closed: error = MQTT5ClientError(.connectionFailed, "the connection closed")
        }
        state = .closed
        return error
    }
}
