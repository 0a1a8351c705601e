import NIOCore
import Testing

@testable import MQTT5

/// The connection state machine driven event by event, with a manual clock: no sockets, no timers.
@Suite struct MQTTConnectionStateMachineTests {
    typealias Machine = MQTTConnectionStateMachine
    typealias Action = MQTTConnectionStateMachine.Action

    /// A manual clock: time moves only when a test says so.
    struct ManualClock {
        var now = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
        mutating func advance(by amount: TimeAmount) { now = now + amount }
    }

    static func connect(keepAlive: UInt16 = 10, authenticationMethod: String? = nil) -> MQTTConnectPacket {
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = 120
        properties.authenticationMethod = authenticationMethod
        if authenticationMethod != nil { properties.authenticationData = buffer("client-first") }
        return MQTTConnectPacket(
            clientIdentifier: "c1", cleanStart: true, keepAlive: keepAlive, properties: properties,
            will: MQTTWill(
                topic: "wills/c1", payload: buffer("gone"), qos: .atLeastOnce, retain: true,
                properties: {
                    var will = MQTTProperties()
                    will.willDelayInterval = 5
                    return will
                }()),
            userName: "alice", password: buffer("secret"))
    }

    /// A machine that has sent CONNECT at `clock.now`.
    static func connecting(
        _ clock: ManualClock,
        keepAlive: UInt16 = 10,
        authenticationMethod: String? = nil
    ) -> Machine {
        var machine = Machine(
            connect: connect(keepAlive: keepAlive, authenticationMethod: authenticationMethod),
            connectTimeout: .seconds(5))
        _ = machine.channelActive(now: clock.now)
        return machine
    }

    /// A machine that has received a CONNACK with `properties` at `clock.now`.
    static func connected(
        _ clock: ManualClock,
        keepAlive: UInt16 = 10,
        properties: MQTTProperties = MQTTProperties()
    ) -> (Machine, MQTT5ConnectionInfo) {
        var machine = connecting(clock, keepAlive: keepAlive)
        guard
            case .connected(let info, _) = machine.packetReceived(
                .connAck(MQTTConnAckPacket(properties: properties)), now: clock.now)
        else {
            Issue.record("CONNACK did not connect")
            return (machine, MQTT5ConnectionInfo(connAck: MQTTConnAckPacket(), connect: connect()))
        }
        return (machine, info)
    }

    // MARK: CONNECT and CONNACK

    @Test func channelActiveSendsTheConnectWithItsTimeout() {
        let clock = ManualClock()
        var machine = Machine(connect: Self.connect(), connectTimeout: .seconds(5))
        #expect(
            machine.channelActive(now: clock.now) == .sendConnect(Self.connect(), timeoutAt: clock.now + .seconds(5)))
        // A second activation changes nothing.
        #expect(machine.channelActive(now: clock.now) == .none)
    }

    @Test func theConnectCarriesCleanStartSessionExpiryCredentialsAndWill() throws {
        var configuration = MQTT5ClientConfiguration(host: "localhost", clientIdentifier: "c1")
        configuration.sessionExpiryInterval = 3600
        configuration.userName = "alice"
        configuration.password = buffer("secret")
        configuration.receiveMaximum = 10
        configuration.maximumPacketSize = 4096
        configuration.topicAliasMaximum = 5
        configuration.keepAlive = .seconds(30)
        var willProperties = MQTTProperties()
        willProperties.willDelayInterval = 10
        willProperties.contentType = "text/plain"
        configuration.will = MQTTWill(
            topic: "status/c1", payload: buffer("offline"), qos: .exactlyOnce, retain: true,
            properties: willProperties)
        try configuration.validate()
        let first = configuration.connectPacket(cleanStart: true, authenticationData: nil)
        #expect(first.cleanStart)
        #expect(first.keepAlive == 30)
        #expect(first.properties.sessionExpiryInterval == 3600)
        #expect(first.properties.receiveMaximum == 10)
        #expect(first.properties.maximumPacketSize == 4096)
        #expect(first.properties.topicAliasMaximum == 5)
        #expect(first.userName == "alice")
        #expect(first.password == buffer("secret"))
        #expect(first.will?.properties.willDelayInterval == 10)
        #expect(first.will?.qos == .exactlyOnce)
        #expect(first.properties.authenticationMethod == nil)
        // It must encode: the codec checks every property against the CONNECT and Will contexts.
        var bytes = ByteBuffer()
        try MQTTPacket.connect(first).write(into: &bytes)
        #expect(try MQTTPacket.read(from: &bytes) == .connect(first))
        #expect(!configuration.connectPacket(cleanStart: false, authenticationData: nil).cleanStart)
    }

    @Test func aSuccessfulConnAckConnectsWithTheServersLimits() {
        let clock = ManualClock()
        var machine = Self.connecting(clock)
        var properties = MQTTProperties()
        properties.receiveMaximum = 20
        properties.maximumQoS = .atLeastOnce
        properties.retainAvailable = false
        properties.maximumPacketSize = 2048
        properties.topicAliasMaximum = 7
        properties.assignedClientIdentifier = "auto-1"
        properties.serverKeepAlive = 4
        properties.sessionExpiryInterval = 60
        properties.subscriptionIdentifiersAvailable = false
        let action = machine.packetReceived(
            .connAck(MQTTConnAckPacket(sessionPresent: true, properties: properties)), now: clock.now)
        guard case .connected(let info, let check) = action else {
            Issue.record("expected connected, got \(action)")
            return
        }
        #expect(info.sessionPresent)
        #expect(info.receiveMaximum == 20)
        #expect(info.maximumQoS == .atLeastOnce)
        #expect(!info.retainAvailable)
        #expect(info.maximumPacketSize == 2048)
        #expect(info.topicAliasMaximum == 7)
        #expect(info.clientIdentifier == "auto-1")
        #expect(info.clientIdentifierAssigned)
        #expect(info.keepAlive == 4)
        #expect(info.sessionExpiryInterval == 60)
        #expect(!info.subscriptionIdentifiersAvailable)
        // The Server Keep Alive (4 s) replaces the client's 10 s: the first PINGREQ is due 4 s after CONNECT.
        #expect(check == clock.now + .seconds(4))
        #expect(machine.isConnected)
    }

    @Test func absentConnAckPropertiesTakeTheSpecificationsDefaults() {
        let (_, info) = Self.connected(ManualClock())
        #expect(!info.sessionPresent)
        #expect(info.receiveMaximum == 65535)
        #expect(info.maximumQoS == .exactlyOnce)
        #expect(info.retainAvailable)
        #expect(info.maximumPacketSize == MQTTPacketDecoder.protocolMaximumPacketSize)
        #expect(info.topicAliasMaximum == 0)
        #expect(info.clientIdentifier == "c1")
        #expect(!info.clientIdentifierAssigned)
        #expect(info.keepAlive == 10)
        #expect(info.sessionExpiryInterval == 120)
        #expect(info.wildcardSubscriptionAvailable && info.subscriptionIdentifiersAvailable)
        #expect(info.sharedSubscriptionAvailable)
    }

    @Test(arguments: [
        (MQTTReasonCode.badUserNameOrPassword, false),
        (.notAuthorized, false),
        (.clientIdentifierNotValid, false),
        (.banned, false),
        (.serverUnavailable, true),
        (.serverBusy, true),
        (.connectionRateExceeded, true),
    ])
    func aRefusingConnAckClosesWithATypedError(reasonCode: MQTTReasonCode, retriable: Bool) {
        let clock = ManualClock()
        var machine = Self.connecting(clock)
        var properties = MQTTProperties()
        properties.reasonString = "no"
        properties.serverReference = "other:1883"
        let action = machine.packetReceived(
            .connAck(MQTTConnAckPacket(reasonCode: reasonCode, properties: properties)), now: clock.now)
        let expected = MQTT5ClientError(
            .connectionRefused, "the server refused the connection", reasonCode: reasonCode, reasonString: "no",
            serverReference: "other:1883")
        #expect(action == .close(expected))
        #expect(expected.isRetriable == retriable)
        #expect(machine.channelInactive() == expected)
    }

    @Test func noConnAckWithinTheTimeoutCloses() {
        var clock = ManualClock()
        var machine = Self.connecting(clock)
        clock.advance(by: .seconds(4))
        #expect(machine.connectTimeoutFired(now: clock.now) == .none)
        clock.advance(by: .seconds(1))
        guard case .close(let error) = machine.connectTimeoutFired(now: clock.now) else {
            Issue.record("expected close")
            return
        }
        #expect(error.code == .timedOut)
        #expect(error.isRetriable)
    }

    @Test func theTimeoutDoesNothingOnceConnected() {
        var clock = ManualClock()
        var (machine, _) = Self.connected(clock)
        clock.advance(by: .seconds(6))
        #expect(machine.connectTimeoutFired(now: clock.now) == .none)
    }

    @Test func packetsOtherThanConnAckBeforeItAreAProtocolError() {
        let clock = ManualClock()
        var machine = Self.connecting(clock)
        let action = machine.packetReceived(.pingResp, now: clock.now)
        guard case .disconnect(let packet, let error) = action else {
            Issue.record("expected disconnect, got \(action)")
            return
        }
        #expect(packet.reasonCode == .protocolError)
        #expect(error.code == .protocolViolation)
        #expect(error.reasonCode == .protocolError)
    }

    // MARK: Keep-alive

    @Test func aPingRequestGoesWhenTheClientHasBeenSilentForTheKeepAlive() {
        var clock = ManualClock()
        var (machine, _) = Self.connected(clock, keepAlive: 10)
        clock.advance(by: .seconds(6))
        // Traffic both ways moves the deadline.
        machine.packetSent(now: clock.now)
        _ = machine.packetReceived(.pubAck(MQTTPubAckPacket(packetIdentifier: 1)), now: clock.now)
        clock.advance(by: .seconds(4))
        #expect(machine.keepAliveTimerFired(now: clock.now) == .scheduleKeepAliveCheck(at: clock.now + .seconds(6)))
        clock.advance(by: .seconds(6))
        // 10 s of silence: PINGREQ; the server now has until 15 s after it last sent anything.
        #expect(machine.keepAliveTimerFired(now: clock.now) == .sendPingRequest(nextCheckAt: clock.now + .seconds(5)))
        clock.advance(by: .seconds(2))
        #expect(machine.packetReceived(.pingResp, now: clock.now) == .none)
        // Answered: the next PINGREQ is due 10 s after the last one was sent.
        #expect(machine.keepAliveTimerFired(now: clock.now) == .scheduleKeepAliveCheck(at: clock.now + .seconds(8)))
        clock.advance(by: .seconds(8))
        #expect(machine.keepAliveTimerFired(now: clock.now) == .sendPingRequest(nextCheckAt: clock.now + .seconds(7)))
    }

    @Test func aClientThatOnlySendsStillPingsWhenTheServerIsSilent() {
        var clock = ManualClock()
        var (machine, _) = Self.connected(clock, keepAlive: 10)
        for _ in 0..<9 {
            clock.advance(by: .seconds(1))
            machine.packetSent(now: clock.now)  // QoS 0 publishes: the server answers nothing
        }
        clock.advance(by: .seconds(1))
        // Nothing received for 10 s: a PINGREQ proves the server alive before 15 s have passed.
        #expect(machine.keepAliveTimerFired(now: clock.now) == .sendPingRequest(nextCheckAt: clock.now + .seconds(5)))
    }

    @Test func aServerSilentForOneAndAHalfKeepAlivesIsDead() {
        var clock = ManualClock()
        var (machine, _) = Self.connected(clock, keepAlive: 10)
        clock.advance(by: .seconds(10))
        #expect(machine.keepAliveTimerFired(now: clock.now) == .sendPingRequest(nextCheckAt: clock.now + .seconds(5)))
        clock.advance(by: .milliseconds(4999))
        #expect(
            machine.keepAliveTimerFired(now: clock.now) == .scheduleKeepAliveCheck(at: clock.now + .milliseconds(1)))
        clock.advance(by: .milliseconds(1))
        guard case .close(let error) = machine.keepAliveTimerFired(now: clock.now) else {
            Issue.record("expected close")
            return
        }
        #expect(error.code == .keepAliveTimeout)
        #expect(error.isRetriable)
        #expect(machine.channelInactive() == error)
    }

    @Test func anyPacketFromTheServerKeepsItAlive() {
        var clock = ManualClock()
        var (machine, _) = Self.connected(clock, keepAlive: 10)
        clock.advance(by: .seconds(10))
        #expect(machine.keepAliveTimerFired(now: clock.now) == .sendPingRequest(nextCheckAt: clock.now + .seconds(5)))
        clock.advance(by: .seconds(4))
        _ = machine.packetReceived(.publish(MQTTPublishPacket(topicName: "t", payload: buffer("x"))), now: clock.now)
        clock.advance(by: .seconds(1))
        // The PINGRESP is late, but a PUBLISH arrived: the deadline is 15 s after that.
        #expect(machine.keepAliveTimerFired(now: clock.now) == .scheduleKeepAliveCheck(at: clock.now + .seconds(14)))
    }

    @Test func silenceWhileTheClientIsNotReadingIsNotDeath() {
        var clock = ManualClock()
        var (machine, _) = Self.connected(clock, keepAlive: 10)
        clock.advance(by: .seconds(10))
        #expect(machine.keepAliveTimerFired(now: clock.now) == .sendPingRequest(nextCheckAt: clock.now + .seconds(5)))
        machine.readingPaused(now: clock.now)
        clock.advance(by: .seconds(60))
        // The PINGRESP may be waiting unread: no verdict while paused.
        #expect(machine.keepAliveTimerFired(now: clock.now) == .none)
        // Reading again: the server gets a full 1.5 × Keep Alive from now.
        #expect(machine.readingResumed(now: clock.now) == .scheduleKeepAliveCheck(at: clock.now + .seconds(15)))
        clock.advance(by: .seconds(15))
        guard case .close(let error) = machine.keepAliveTimerFired(now: clock.now) else {
            Issue.record("expected close")
            return
        }
        #expect(error.code == .keepAliveTimeout)
    }

    @Test func pingsContinueWhileTheClientIsNotReading() {
        var clock = ManualClock()
        var (machine, _) = Self.connected(clock, keepAlive: 10)
        machine.readingPaused(now: clock.now)
        clock.advance(by: .seconds(10))
        // The client must still show it is alive; nothing to wait for afterwards until reading resumes.
        #expect(machine.keepAliveTimerFired(now: clock.now) == .send(.pingReq))
    }

    @Test func keepAliveZeroSchedulesNothing() {
        var clock = ManualClock()
        var machine = Self.connecting(clock, keepAlive: 0)
        #expect(
            machine.packetReceived(.connAck(MQTTConnAckPacket()), now: clock.now)
                == .connected(
                    MQTT5ConnectionInfo(connAck: MQTTConnAckPacket(), connect: Self.connect(keepAlive: 0)),
                    keepAliveCheckAt: nil))
        clock.advance(by: .seconds(1000))
        #expect(machine.keepAliveTimerFired(now: clock.now) == .none)
    }

    // MARK: DISCONNECT and protocol violations

    @Test func aServerDisconnectEndsTheConnectionWithItsReasonCodeStringAndReference() {
        let clock = ManualClock()
        var (machine, _) = Self.connected(clock)
        var properties = MQTTProperties()
        properties.reasonString = "another connection took over"
        properties.serverReference = "b2:1883"
        let action = machine.packetReceived(
            .disconnect(MQTTDisconnectPacket(reasonCode: .sessionTakenOver, properties: properties)), now: clock.now)
        let expected = MQTT5ClientError(
            .serverDisconnected, "the server closed the connection", reasonCode: .sessionTakenOver,
            reasonString: "another connection took over", serverReference: "b2:1883")
        #expect(action == .close(expected))
        // Session taken over is final: reconnecting would take the session back from the other client.
        #expect(!expected.isRetriable)
        #expect(machine.channelInactive() == expected)
        // Server shutting down is not.
        #expect(
            MQTT5ClientError(.serverDisconnected, "", reasonCode: .serverShuttingDown).isRetriable)
    }

    @Test(arguments: [
        (MQTTProtocolError(.truncated, "x"), MQTTReasonCode.malformedPacket),
        (MQTTProtocolError(.invalidPacketType, "x"), .malformedPacket),
        (MQTTProtocolError(.duplicateProperty, "x"), .protocolError),
        (MQTTProtocolError(.invalidTopicAlias, "x"), .topicAliasInvalid),
        (MQTTProtocolError(.receiveMaximumExceeded, "x"), .receiveMaximumExceeded),
        (MQTTProtocolError(.packetTooLarge, "x"), .packetTooLarge),
        (MQTTProtocolError(.invalidTopicName, "x"), .topicNameInvalid),
        // Server-only codes become Protocol Error in a client's DISCONNECT.
        (MQTTProtocolError(.invalidTopicFilter, "x"), .protocolError),
        (MQTTProtocolError(.unsupportedProtocolVersion, "x"), .protocolError),
    ])
    func aProtocolViolationIsAnsweredWithItsReasonCode(error: MQTTProtocolError, reason: MQTTReasonCode) {
        let (connectedMachine, _) = Self.connected(ManualClock())
        var machine = connectedMachine
        let action = machine.protocolViolation(error)
        #expect(
            action
                == .disconnect(
                    MQTTDisconnectPacket(reasonCode: reason),
                    MQTT5ClientError(.protocolViolation, "\(error)", reasonCode: reason)))
        #expect(reason.isAllowed(in: .disconnect))
        // Nothing further is done on a closing connection.
        #expect(machine.protocolViolation(error) == .none)
        #expect(machine.packetReceived(.pingResp, now: ManualClock().now) == .none)
    }

    @Test func packetsOnlyAClientSendsAreAProtocolError() {
        for packet in [
            MQTTPacket.pingReq, .connAck(MQTTConnAckPacket()),
            .subscribe(MQTTSubscribePacket(packetIdentifier: 1, subscriptions: [MQTTSubscription(topicFilter: "t")])),
        ] {
            var (machine, _) = Self.connected(ManualClock())
            guard case .disconnect(let disconnect, let error) = machine.packetReceived(packet, now: ManualClock().now)
            else {
                Issue.record("\(packet) did not disconnect")
                continue
            }
            #expect(disconnect.reasonCode == .protocolError)
            #expect(error.code == .protocolViolation)
        }
    }

    @Test func sessionPacketsAreForwarded() {
        var (machine, _) = Self.connected(ManualClock())
        let publish = MQTTPacket.publish(MQTTPublishPacket(topicName: "t", payload: buffer("x")))
        #expect(machine.packetReceived(publish, now: ManualClock().now) == .forward(publish))
        let subAck = MQTTPacket.subAck(MQTTSubAckPacket(packetIdentifier: 3, reasonCodes: [.grantedQoS1]))
        #expect(machine.packetReceived(subAck, now: ManualClock().now) == .forward(subAck))
    }

    @Test func theApplicationsDisconnectIsSentThenTheConnectionCloses() {
        var (machine, _) = Self.connected(ManualClock())
        let packet = MQTTDisconnectPacket(reasonCode: .disconnectWithWillMessage)
        let error = MQTT5ClientError(.shutDown, "disconnected")
        #expect(machine.disconnectRequested(packet, error: error) == .disconnect(packet, error))
        #expect(machine.disconnectRequested(packet, error: error) == .none)
        #expect(machine.channelInactive() == error)
    }

    @Test func aConnectionLostWithoutReasonIsAConnectionFailure() {
        var (machine, _) = Self.connected(ManualClock())
        let error = machine.channelInactive()
        #expect(error.code == .connectionFailed)
        #expect(error.isRetriable)
    }

    // MARK: Enhanced authentication

    @Test func anAuthenticationExchangeRunsBeforeConnAck() {
        let clock = ManualClock()
        var machine = Self.connecting(clock, authenticationMethod: "SCRAM-SHA-1")
        var challenge = MQTTProperties()
        challenge.authenticationMethod = "SCRAM-SHA-1"
        challenge.authenticationData = buffer("server-first")
        #expect(
            machine.packetReceived(
                .auth(MQTTAuthPacket(reasonCode: .continueAuthentication, properties: challenge)), now: clock.now)
                == .authenticate(challenge: buffer("server-first")))
        var answer = MQTTProperties()
        answer.authenticationMethod = "SCRAM-SHA-1"
        answer.authenticationData = buffer("client-final")
        #expect(
            machine.authenticationResponded(data: buffer("client-final"))
                == .send(.auth(MQTTAuthPacket(reasonCode: .continueAuthentication, properties: answer))))
        var final = MQTTProperties()
        final.authenticationMethod = "SCRAM-SHA-1"
        final.authenticationData = buffer("server-final")
        guard
            case .connected(let info, _) = machine.packetReceived(
                .connAck(MQTTConnAckPacket(properties: final)), now: clock.now)
        else {
            Issue.record("expected connected")
            return
        }
        #expect(info.authenticationData == buffer("server-final"))
    }

    @Test func anAuthWithAnotherMethodIsAProtocolError() {
        let clock = ManualClock()
        var machine = Self.connecting(clock, authenticationMethod: "SCRAM-SHA-1")
        var challenge = MQTTProperties()
        challenge.authenticationMethod = "OTHER"
        guard
            case .disconnect(let packet, _) = machine.packetReceived(
                .auth(MQTTAuthPacket(reasonCode: .continueAuthentication, properties: challenge)), now: clock.now)
        else {
            Issue.record("expected disconnect")
            return
        }
        #expect(packet.reasonCode == .protocolError)
    }

    @Test func anAuthWithoutEnhancedAuthenticationIsAProtocolError() {
        let clock = ManualClock()
        var machine = Self.connecting(clock)
        var challenge = MQTTProperties()
        challenge.authenticationMethod = "SCRAM-SHA-1"
        guard
            case .disconnect = machine.packetReceived(
                .auth(MQTTAuthPacket(reasonCode: .continueAuthentication, properties: challenge)), now: clock.now)
        else {
            Issue.record("expected disconnect")
            return
        }
    }

    @Test func reauthenticationSendsReAuthenticateAndEndsWithSuccess() {
        let clock = ManualClock()
        var machine = Self.connecting(clock, authenticationMethod: "TOKEN")
        _ = machine.packetReceived(.connAck(MQTTConnAckPacket()), now: clock.now)
        #expect(machine.authenticationResponded(data: nil) == .none)  // nothing is under way
        var start = MQTTProperties()
        start.authenticationMethod = "TOKEN"
        start.authenticationData = buffer("t2")
        #expect(
            machine.reauthenticationRequested(data: buffer("t2"))
                == .send(.auth(MQTTAuthPacket(reasonCode: .reAuthenticate, properties: start))))
        // One at a time.
        #expect(machine.reauthenticationRequested(data: buffer("t3")) == .none)
        var challenge = MQTTProperties()
        challenge.authenticationMethod = "TOKEN"
        challenge.authenticationData = buffer("prove")
        #expect(
            machine.packetReceived(
                .auth(MQTTAuthPacket(reasonCode: .continueAuthentication, properties: challenge)), now: clock.now)
                == .authenticate(challenge: buffer("prove")))
        var success = MQTTProperties()
        success.authenticationMethod = "TOKEN"
        #expect(
            machine.packetReceived(.auth(MQTTAuthPacket(reasonCode: .success, properties: success)), now: clock.now)
                == .reauthenticated(nil))
        #expect(machine.isConnected)
        // An unsolicited AUTH afterwards is a protocol error.
        guard
            case .disconnect = machine.packetReceived(
                .auth(MQTTAuthPacket(reasonCode: .continueAuthentication, properties: challenge)), now: clock.now)
        else {
            Issue.record("expected disconnect")
            return
        }
    }

    @Test func aFailingAuthenticatorDisconnects() {
        let clock = ManualClock()
        var machine = Self.connecting(clock, authenticationMethod: "TOKEN")
        guard case .disconnect(let packet, let error) = machine.authenticationFailed("bad server proof") else {
            Issue.record("expected disconnect")
            return
        }
        #expect(packet.reasonCode == .unspecifiedError)
        #expect(error.code == .authenticationFailed)
        #expect(!error.isRetriable)
    }
}
