import NIOCore
import Testing

@testable import MQTT5

/// The session state machine driven event by event: what is sent, delivered and completed, without sockets.
@Suite struct MQTTSessionStateMachineTests {
    typealias Machine = MQTTSessionStateMachine
    typealias Action = MQTTSessionStateMachine.Action

    static func configuration(
        receiveMaximum: UInt16 = 10,
        topicAliasMaximum: UInt16 = 5,
        outboundTopicAliasMaximum: UInt16 = 16,
        maximumPendingPublishes: Int = 100,
        strictReceiveMaximum: Bool = false
    ) -> Machine.Configuration {
        Machine.Configuration(
            receiveMaximum: receiveMaximum, topicAliasMaximum: topicAliasMaximum,
            outboundTopicAliasMaximum: outboundTopicAliasMaximum, maximumPendingPublishes: maximumPendingPublishes,
            strictReceiveMaximum: strictReceiveMaximum)
    }

    /// What a CONNACK with these values grants.
    static func info(
        sessionPresent: Bool = false,
        receiveMaximum: UInt16? = nil,
        topicAliasMaximum: UInt16? = nil,
        maximumQoS: MQTTQoS? = nil,
        retainAvailable: Bool? = nil,
        maximumPacketSize: UInt32? = nil,
        subscriptionIdentifiersAvailable: Bool? = nil
    ) -> MQTT5ConnectionInfo {
        var properties = MQTTProperties()
        properties.receiveMaximum = receiveMaximum
        properties.topicAliasMaximum = topicAliasMaximum
        properties.maximumQoS = maximumQoS
        properties.retainAvailable = retainAvailable
        properties.maximumPacketSize = maximumPacketSize
        properties.subscriptionIdentifiersAvailable = subscriptionIdentifiersAvailable
        return MQTT5ConnectionInfo(
            connAck: MQTTConnAckPacket(sessionPresent: sessionPresent, properties: properties),
            connect: MQTTConnectPacket(clientIdentifier: "c1"))
    }

    static func connected(
        _ configuration: Machine.Configuration = configuration(),
        info: MQTT5ConnectionInfo = info()
    ) -> Machine {
        var machine = Machine(configuration: configuration)
        #expect(machine.connectionEstablished(info) == [])
        return machine
    }

    static func message(
        _ topic: String, _ payload: String = "x", qos: MQTTQoS = .atLeastOnce, retain: Bool = false
    )
        -> MQTTPublishPacket
    {
        MQTTPublishPacket(topicName: topic, payload: buffer(payload), qos: qos, retain: retain)
    }

    static func sent(
        _ topic: String, _ payload: String = "x", qos: MQTTQoS = .atLeastOnce, id: UInt16, dup: Bool = false
    )
        -> MQTTPacket
    {
        .publish(
            MQTTPublishPacket(topicName: topic, payload: buffer(payload), qos: qos, dup: dup, packetIdentifier: id))
    }

    static func inbound(
        _ topic: String,
        _ payload: String = "x",
        qos: MQTTQoS = .atLeastOnce,
        id: UInt16? = nil,
        dup: Bool = false,
        alias: UInt16? = nil,
        subscriptionIdentifiers: [Int] = []
    ) -> MQTTPacket {
        var properties = MQTTProperties()
        properties.topicAlias = alias
        properties.subscriptionIdentifiers = subscriptionIdentifiers
        return .publish(
            MQTTPublishPacket(
                topicName: topic, payload: buffer(payload), qos: qos, dup: dup, packetIdentifier: id,
                properties: properties))
    }

    static func success(
        _ id: UInt16?, _ reasonCode: MQTTReasonCode = .success
    )
        -> Result<MQTTPublishResult, MQTT5ClientError>
    {
        .success(MQTTPublishResult(packetIdentifier: id, reasonCode: reasonCode))
    }

    /// A machine with subscription 1 on `filter`, granted.
    static func subscribed(
        _ filter: String = "t/#",
        qos: MQTTQoS = .exactlyOnce,
        configuration: Machine.Configuration = configuration(),
        info: MQTT5ConnectionInfo = info()
    ) -> Machine {
        var machine = connected(configuration, info: info)
        let actions = machine.subscribeRequested(
            100, id: 1, subscriptions: [MQTTSubscription(topicFilter: filter, options: .init(maximumQoS: qos))])
        guard case .send(.subscribe(let subscribe)) = actions.first else {
            Issue.record("no SUBSCRIBE: \(actions)")
            return machine
        }
        _ = machine.packetReceived(
            .subAck(MQTTSubAckPacket(packetIdentifier: subscribe.packetIdentifier, reasonCodes: [.grantedQoS2])))
        return machine
    }

    // MARK: Packet Identifiers

    @Test func identifiersRiseAndAreNotReusedWhileInUse() {
        var allocator = MQTTPacketIdentifierAllocator()
        #expect(allocator.allocate() == 1)
        #expect(allocator.allocate() == 2)
        allocator.release(1)
        // A freed identifier is the last to come back.
        #expect(allocator.allocate() == 3)
        #expect(allocator.isInUse(2))
        #expect(!allocator.isInUse(1))
    }

    @Test func identifiersWrapAfter65535AndSkipThoseInUse() {
        var allocator = MQTTPacketIdentifierAllocator()
        for expected in 1...UInt16.max {
            #expect(allocator.allocate() == expected)
        }
        // All 65,535 are in use: none is handed out twice.
        #expect(allocator.allocate() == nil)
        allocator.release(3)
        allocator.release(65535)
        #expect(allocator.allocate() == 3)
        #expect(allocator.allocate() == 65535)
        #expect(allocator.allocate() == nil)
        allocator.release(1)
        #expect(allocator.allocate() == 1)
        let claimed = allocator.claim(1)
        #expect(!claimed)
    }

    @Test func aFreedIdentifierIsNotReusedAtOnceByTheSession() {
        var machine = Self.connected()
        #expect(machine.publishRequested(1, Self.message("a")) == [.send(Self.sent("a", id: 1))])
        #expect(
            machine.packetReceived(.pubAck(MQTTPubAckPacket(packetIdentifier: 1))) == [
                .completePublish(1, Self.success(1))
            ])
        #expect(machine.publishRequested(2, Self.message("a")) == [.send(Self.sent("a", id: 2))])
        #expect(machine.packetIdentifiers.inUse == [2])
    }

    // MARK: Outbound QoS

    @Test func qos0IsSentAtOnceWhenConnectedAndQueuedOtherwise() {
        var machine = Machine(configuration: Self.configuration())
        let packet = Self.message("a", qos: .atMostOnce)
        #expect(machine.publishRequested(7, packet) == [])
        #expect(machine.pendingPublishes.count == 1)
        #expect(machine.connectionEstablished(Self.info()) == [.sendQoS0(packet, request: 7)])
        #expect(machine.publishRequested(8, packet) == [.sendQoS0(packet, request: 8)])
    }

    @Test func qos1CompletesWithPubAck() {
        var machine = Self.connected()
        #expect(machine.publishRequested(1, Self.message("a")) == [.send(Self.sent("a", id: 1))])
        var properties = MQTTProperties()
        properties.reasonString = "nobody listens"
        let result = MQTTPublishResult(packetIdentifier: 1, reasonCode: .noMatchingSubscribers, properties: properties)
        #expect(
            machine.packetReceived(
                .pubAck(
                    MQTTPubAckPacket(packetIdentifier: 1, reasonCode: .noMatchingSubscribers, properties: properties)))
                == [.completePublish(1, .success(result))])
        #expect(machine.inFlight.isEmpty)
        // A PUBACK nobody waits for changes nothing.
        #expect(machine.packetReceived(.pubAck(MQTTPubAckPacket(packetIdentifier: 1))) == [])
    }

    @Test func aFailurePubAckFailsThePublishWithATypedError() {
        var machine = Self.connected()
        _ = machine.publishRequested(1, Self.message("secret"))
        var properties = MQTTProperties()
        properties.reasonString = "denied"
        let actions = machine.packetReceived(
            .pubAck(MQTTPubAckPacket(packetIdentifier: 1, reasonCode: .notAuthorized, properties: properties)))
        #expect(
            actions == [
                .completePublish(
                    1,
                    .failure(
                        MQTT5ClientError(
                            .publishRefused, "PUBACK for the QoS 1 message to 'secret'", reasonCode: .notAuthorized,
                            reasonString: "denied")))
            ])
        #expect(machine.packetIdentifiers.inUse.isEmpty)
    }

    @Test func qos2GoesThroughPubRecPubRelPubComp() {
        var machine = Self.connected()
        #expect(
            machine.publishRequested(1, Self.message("a", qos: .exactlyOnce))
                == [.send(Self.sent("a", qos: .exactlyOnce, id: 1))])
        #expect(
            machine.packetReceived(.pubRec(MQTTPubRecPacket(packetIdentifier: 1)))
                == [.send(.pubRel(MQTTPubRelPacket(packetIdentifier: 1)))])
        // A repeated PUBREC is answered again.
        #expect(
            machine.packetReceived(.pubRec(MQTTPubRecPacket(packetIdentifier: 1)))
                == [.send(.pubRel(MQTTPubRelPacket(packetIdentifier: 1)))])
        #expect(
            machine.packetReceived(.pubComp(MQTTPubCompPacket(packetIdentifier: 1))) == [
                .completePublish(1, Self.success(1))
            ])
        #expect(machine.inFlight.isEmpty && machine.packetIdentifiers.inUse.isEmpty)
    }

    @Test func aFailurePubRecEndsTheExchangeWithoutPubRel() {
        var machine = Self.connected()
        _ = machine.publishRequested(1, Self.message("a", qos: .exactlyOnce))
        let actions = machine.packetReceived(.pubRec(MQTTPubRecPacket(packetIdentifier: 1, reasonCode: .quotaExceeded)))
        guard case .completePublish(1, .failure(let error)) = actions.first, actions.count == 1 else {
            Issue.record("expected one failure, got \(actions)")
            return
        }
        #expect(error.code == .publishRefused)
        #expect(error.reasonCode == .quotaExceeded)
        #expect(machine.packetIdentifiers.inUse.isEmpty)
    }

    @Test func aPubRecForAnUnknownIdentifierIsAnsweredWithPacketIdentifierNotFound() {
        var machine = Self.connected()
        #expect(
            machine.packetReceived(.pubRec(MQTTPubRecPacket(packetIdentifier: 9)))
                == [.send(.pubRel(MQTTPubRelPacket(packetIdentifier: 9, reasonCode: .packetIdentifierNotFound)))])
    }

    @Test func theServersReceiveMaximumLimitsMessagesInFlight() {
        var machine = Self.connected(info: Self.info(receiveMaximum: 2))
        #expect(machine.publishRequested(1, Self.message("a", "1")) == [.send(Self.sent("a", "1", id: 1))])
        #expect(
            machine.publishRequested(2, Self.message("a", "2", qos: .exactlyOnce))
                == [.send(Self.sent("a", "2", qos: .exactlyOnce, id: 2))])
        #expect(machine.publishRequested(3, Self.message("a", "3")) == [])
        // QoS 0 is not counted, but keeps its place in the queue.
        #expect(machine.publishRequested(4, Self.message("a", "4", qos: .atMostOnce)) == [])
        #expect(machine.pendingPublishes.map(\.request) == [3, 4])
        // PUBREC does not free the slot: a QoS 2 message counts until PUBCOMP.
        _ = machine.packetReceived(.pubRec(MQTTPubRecPacket(packetIdentifier: 2)))
        #expect(machine.inFlight.count == 2)
        #expect(
            machine.packetReceived(.pubComp(MQTTPubCompPacket(packetIdentifier: 2))) == [
                .completePublish(2, Self.success(2)),
                .send(Self.sent("a", "3", id: 3)),
                .sendQoS0(Self.message("a", "4", qos: .atMostOnce), request: 4),
            ])
        #expect(machine.inFlight.count == 2)
    }

    @Test func publishesAreQueuedUpToTheLimit() {
        var machine = Machine(configuration: Self.configuration(maximumPendingPublishes: 2))
        #expect(machine.publishRequested(1, Self.message("a")) == [])
        #expect(machine.publishRequested(2, Self.message("a")) == [])
        guard case .completePublish(3, .failure(let error)) = machine.publishRequested(3, Self.message("a")).first
        else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.code == .tooManyPendingRequests)
        machine.publishCancelled(1)
        #expect(machine.pendingPublishes.map(\.request) == [2])
    }

    @Test func whatTheServerForbidsFailsWithoutBeingSent() {
        var machine = Self.connected(info: Self.info(maximumQoS: .atLeastOnce, retainAvailable: false))
        guard
            case .completePublish(1, .failure(let qos)) = machine.publishRequested(
                1, Self.message("a", qos: .exactlyOnce)
            ).first,
            case .completePublish(2, .failure(let retain)) = machine.publishRequested(
                2, Self.message("a", retain: true)
            ).first
        else {
            Issue.record("expected failures")
            return
        }
        #expect(qos.code == .qosNotSupported)
        #expect(retain.code == .retainNotSupported)
        #expect(machine.packetIdentifiers.inUse.isEmpty)
    }

    @Test func invalidTopicsAndClientManagedPropertiesAreRefused() {
        var machine = Self.connected()
        var aliased = Self.message("a")
        aliased.properties.topicAlias = 1
        var identified = Self.message("a")
        identified.properties.subscriptionIdentifiers = [1]
        for packet in [Self.message("a/+"), Self.message(""), aliased, identified] {
            guard case .completePublish(_, .failure(let error)) = machine.publishRequested(1, packet).first else {
                Issue.record("\(packet) was not refused")
                continue
            }
            #expect(error.code == .invalidArgument)
        }
    }

    @Test func aPublishAboveTheServersMaximumPacketSizeFailsAndUsesNoAlias() {
        var machine = Self.connected(info: Self.info(topicAliasMaximum: 4, maximumPacketSize: 64))
        let big = Self.message("big", String(repeating: "x", count: 100))
        guard case .completePublish(1, .failure(let error)) = machine.publishRequested(1, big).first else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.code == .packetTooLarge)
        #expect(machine.packetIdentifiers.inUse.isEmpty)
        // The failed message took no alias: the next message to the topic gets alias 1.
        var first = Self.message("big")
        first.properties.topicAlias = 1
        first.packetIdentifier = 2
        #expect(machine.publishRequested(2, Self.message("big")) == [.send(.publish(first))])
    }

    @Test func theSizeCheckCountsTheWholePacketExactly() throws {
        for payloadSize in [0, 1, 100, 200, 16_000, 16_500] {
            var packet = Self.message("size/check", String(repeating: "p", count: payloadSize))
            packet.packetIdentifier = 7
            packet.properties.userProperties = [MQTTUserProperty(name: "k", value: "v")]
            var bytes = ByteBuffer()
            try packet.write(into: &bytes)
            #expect(try packet.encodedSize() == bytes.readableBytes)
        }
    }

    // MARK: Outbound Topic Aliases

    @Test func topicAliasesAreAssignedUpToTheServersMaximum() {
        var machine = Self.connected(info: Self.info(topicAliasMaximum: 2))
        func aliased(_ topic: String, _ alias: UInt16?, id: UInt16) -> Action {
            var packet = MQTTPublishPacket(
                topicName: topic, payload: buffer("x"), qos: .atLeastOnce, packetIdentifier: id)
            packet.properties.topicAlias = alias
            return .send(.publish(packet))
        }
        #expect(machine.publishRequested(1, Self.message("a")) == [aliased("a", 1, id: 1)])
        #expect(machine.publishRequested(2, Self.message("a")) == [aliased("", 1, id: 2)])
        #expect(machine.publishRequested(3, Self.message("b")) == [aliased("b", 2, id: 3)])
        // The server's maximum is reached: other topics go in full.
        #expect(machine.publishRequested(4, Self.message("c")) == [aliased("c", nil, id: 4)])
        #expect(machine.publishRequested(5, Self.message("b")) == [aliased("", 2, id: 5)])
        // Aliases belong to one connection: after a reconnect, messages in flight go with their full Topic Name
        // and no alias, and the first message to a topic sets its alias again.
        machine.connectionLost()
        var resent: [Action] = []
        for (id, topic) in [(1, "a"), (2, "a"), (3, "b"), (4, "c"), (5, "b")] as [(UInt16, String)] {
            resent.append(.send(Self.sent(topic, id: id, dup: true)))
        }
        #expect(machine.connectionEstablished(Self.info(sessionPresent: true, topicAliasMaximum: 2)) == resent)
        #expect(machine.publishRequested(6, Self.message("b")) == [aliased("b", 1, id: 6)])
    }

    @Test func noAliasesWhenTheServerAcceptsNone() {
        var machine = Self.connected(info: Self.info(topicAliasMaximum: nil))
        #expect(machine.publishRequested(1, Self.message("a")) == [.send(Self.sent("a", id: 1))])
        #expect(machine.publishRequested(2, Self.message("a")) == [.send(Self.sent("a", id: 2))])
    }

    @Test func theClientsOwnAliasLimitApplies() {
        var machine = Self.connected(
            Self.configuration(outboundTopicAliasMaximum: 0), info: Self.info(topicAliasMaximum: 10))
        #expect(machine.publishRequested(1, Self.message("a")) == [.send(Self.sent("a", id: 1))])
    }

    // MARK: Inbound QoS and acknowledgements

    @Test func qos1IsAcknowledgedWhenTheConsumerTakesIt() {
        var machine = Self.subscribed()
        let actions = machine.packetReceived(Self.inbound("t/1", id: 5))
        #expect(
            actions == [
                .deliver(MQTTMessage(topic: "t/1", payload: buffer("x"), qos: .atLeastOnce), to: [1], delivery: 1)
            ])
        #expect(machine.messageTaken(1) == [.send(.pubAck(MQTTPubAckPacket(packetIdentifier: 5)))])
        #expect(machine.messageTaken(1) == [])
        #expect(machine.inbound.isEmpty)
    }

    @Test func qos0NeedsNoAcknowledgement() {
        var machine = Self.subscribed()
        #expect(
            machine.packetReceived(Self.inbound("t/1", qos: .atMostOnce))
                == [.deliver(MQTTMessage(topic: "t/1", payload: buffer("x")), to: [1], delivery: nil)])
        #expect(machine.packetReceived(Self.inbound("elsewhere", qos: .atMostOnce)) == [])
    }

    @Test func qos2InboundPubRecWaitsForTheConsumerThenPubRelIsCompleted() {
        var machine = Self.subscribed()
        let message = MQTTMessage(topic: "t/1", payload: buffer("x"), qos: .exactlyOnce)
        #expect(
            machine.packetReceived(Self.inbound("t/1", qos: .exactlyOnce, id: 9)) == [
                .deliver(message, to: [1], delivery: 1)
            ])
        #expect(machine.messageTaken(1) == [.send(.pubRec(MQTTPubRecPacket(packetIdentifier: 9)))])
        #expect(machine.awaitingRelease == [9])
        #expect(
            machine.packetReceived(.pubRel(MQTTPubRelPacket(packetIdentifier: 9)))
                == [.send(.pubComp(MQTTPubCompPacket(packetIdentifier: 9)))])
        #expect(machine.awaitingRelease.isEmpty)
        // A PUBREL for nothing is answered with Packet Identifier not found.
        #expect(
            machine.packetReceived(.pubRel(MQTTPubRelPacket(packetIdentifier: 9)))
                == [.send(.pubComp(MQTTPubCompPacket(packetIdentifier: 9, reasonCode: .packetIdentifierNotFound)))])
    }

    @Test func aDuplicateQoS2PublishIsNotDeliveredTwice() {
        var machine = Self.subscribed()
        _ = machine.packetReceived(Self.inbound("t/1", qos: .exactlyOnce, id: 9))
        // Before the consumer took it: nothing, the PUBREC will come.
        #expect(machine.packetReceived(Self.inbound("t/1", qos: .exactlyOnce, id: 9, dup: true)) == [])
        #expect(machine.messageTaken(1) == [.send(.pubRec(MQTTPubRecPacket(packetIdentifier: 9)))])
        // After PUBREC: PUBREC again, nothing delivered.
        #expect(
            machine.packetReceived(Self.inbound("t/1", qos: .exactlyOnce, id: 9, dup: true))
                == [.send(.pubRec(MQTTPubRecPacket(packetIdentifier: 9)))])
        _ = machine.packetReceived(.pubRel(MQTTPubRelPacket(packetIdentifier: 9)))
        // Released: the identifier now names a new message.
        #expect(
            machine.packetReceived(Self.inbound("t/1", "new", qos: .exactlyOnce, id: 9))
                == [
                    .deliver(MQTTMessage(topic: "t/1", payload: buffer("new"), qos: .exactlyOnce), to: [1], delivery: 2)
                ])
    }

    @Test func acknowledgementsGoInArrivalOrder() {
        var machine = Self.connected()
        _ = machine.subscribeRequested(1, id: 1, subscriptions: [MQTTSubscription(topicFilter: "a")])
        _ = machine.subscribeRequested(2, id: 2, subscriptions: [MQTTSubscription(topicFilter: "b")])
        _ = machine.packetReceived(.subAck(MQTTSubAckPacket(packetIdentifier: 1, reasonCodes: [.grantedQoS1])))
        _ = machine.packetReceived(.subAck(MQTTSubAckPacket(packetIdentifier: 2, reasonCodes: [.grantedQoS1])))
        _ = machine.packetReceived(Self.inbound("a", id: 10))
        _ = machine.packetReceived(Self.inbound("b", qos: .exactlyOnce, id: 11))
        _ = machine.packetReceived(Self.inbound("b", id: 12))
        // The fast subscription took its messages first: their acknowledgements wait for the slow one's.
        #expect(machine.messageTaken(2) == [])
        #expect(machine.messageTaken(3) == [])
        #expect(
            machine.messageTaken(1) == [
                .send(.pubAck(MQTTPubAckPacket(packetIdentifier: 10))),
                .send(.pubRec(MQTTPubRecPacket(packetIdentifier: 11))),
                .send(.pubAck(MQTTPubAckPacket(packetIdentifier: 12))),
            ])
    }

    @Test func aMessageForTwoSubscriptionsIsAcknowledgedWhenBothTookIt() {
        var machine = Self.subscribed("t/#")
        _ = machine.subscribeRequested(2, id: 2, subscriptions: [MQTTSubscription(topicFilter: "t/+")])
        _ = machine.packetReceived(.subAck(MQTTSubAckPacket(packetIdentifier: 2, reasonCodes: [.grantedQoS1])))
        #expect(
            machine.packetReceived(Self.inbound("t/x", id: 3))
                == [
                    .deliver(
                        MQTTMessage(topic: "t/x", payload: buffer("x"), qos: .atLeastOnce), to: [1, 2], delivery: 1)
                ])
        #expect(machine.messageTaken(1) == [])
        #expect(machine.messageTaken(1) == [.send(.pubAck(MQTTPubAckPacket(packetIdentifier: 3)))])
    }

    @Test func aMessageNoSubscriptionWantsIsAcknowledgedAtOnce() {
        var machine = Self.subscribed("t/#")
        #expect(
            machine.packetReceived(Self.inbound("other", id: 4)) == [
                .send(.pubAck(MQTTPubAckPacket(packetIdentifier: 4)))
            ])
    }

    @Test func moreUnacknowledgedMessagesThanTheReceiveMaximumIsAProtocolViolationWhenStrict() {
        var machine = Self.subscribed(configuration: Self.configuration(receiveMaximum: 2, strictReceiveMaximum: true))
        _ = machine.packetReceived(Self.inbound("t/1", id: 1))
        _ = machine.packetReceived(Self.inbound("t/2", qos: .exactlyOnce, id: 2))
        _ = machine.messageTaken(2)  // not acknowledged: the first is not taken yet
        guard case .protocolViolation(let error) = machine.packetReceived(Self.inbound("t/3", id: 3)).first else {
            Issue.record("expected a violation")
            return
        }
        #expect(error.code == .receiveMaximumExceeded)
        #expect(error.clientDisconnectReason == .receiveMaximumExceeded)
        // A QoS 2 message counts until PUBCOMP: after PUBREC it still takes a slot.
        var released = Self.subscribed(configuration: Self.configuration(receiveMaximum: 1, strictReceiveMaximum: true))
        _ = released.packetReceived(Self.inbound("t/1", qos: .exactlyOnce, id: 1))
        _ = released.messageTaken(1)
        guard case .protocolViolation = released.packetReceived(Self.inbound("t/2", id: 2)).first else {
            Issue.record("expected a violation")
            return
        }
        _ = released.packetReceived(.pubRel(MQTTPubRelPacket(packetIdentifier: 1)))
        #expect(released.packetReceived(Self.inbound("t/2", id: 2)).count == 1)
    }

    @Test func aServerOverTheReceiveMaximumIsToleratedAndReported() {
        var machine = Self.subscribed(configuration: Self.configuration(receiveMaximum: 2))
        _ = machine.packetReceived(Self.inbound("t/1", id: 1))
        _ = machine.packetReceived(Self.inbound("t/2", id: 2))
        #expect(!machine.isOverReceiveMaximum)
        // The third is delivered (the driver stops reading until the consumer catches up).
        #expect(machine.packetReceived(Self.inbound("t/3", id: 3)).count == 1)
        #expect(machine.isOverReceiveMaximum)
        #expect(machine.messageTaken(1) == [.send(.pubAck(MQTTPubAckPacket(packetIdentifier: 1)))])
        #expect(!machine.isOverReceiveMaximum)
    }

    // MARK: Inbound Topic Aliases

    @Test func inboundAliasesAreSetAndResolved() {
        var machine = Self.subscribed("t/#", configuration: Self.configuration(topicAliasMaximum: 3))
        #expect(
            machine.packetReceived(Self.inbound("t/a", qos: .atMostOnce, alias: 3))
                == [.deliver(MQTTMessage(topic: "t/a", payload: buffer("x")), to: [1], delivery: nil)])
        #expect(
            machine.packetReceived(Self.inbound("", "y", qos: .atMostOnce, alias: 3))
                == [.deliver(MQTTMessage(topic: "t/a", payload: buffer("y")), to: [1], delivery: nil)])
        // Remapped.
        _ = machine.packetReceived(Self.inbound("t/b", qos: .atMostOnce, alias: 3))
        #expect(
            machine.packetReceived(Self.inbound("", "z", qos: .atMostOnce, alias: 3))
                == [.deliver(MQTTMessage(topic: "t/b", payload: buffer("z")), to: [1], delivery: nil)])
        // Not carried to the next connection.
        machine.connectionLost()
        _ = machine.connectionEstablished(Self.info(sessionPresent: true))
        guard
            case .protocolViolation(let error) = machine.packetReceived(Self.inbound("", qos: .atMostOnce, alias: 3))
                .first
        else {
            Issue.record("expected a violation")
            return
        }
        #expect(error.clientDisconnectReason == .protocolError)
    }

    @Test func anAliasAboveTheClientsMaximumIsTopicAliasInvalid() {
        var machine = Self.subscribed("t/#", configuration: Self.configuration(topicAliasMaximum: 3))
        guard
            case .protocolViolation(let error) = machine.packetReceived(Self.inbound("t/a", qos: .atMostOnce, alias: 4))
                .first
        else {
            Issue.record("expected a violation")
            return
        }
        #expect(error.clientDisconnectReason == .topicAliasInvalid)
        // With no aliases accepted, any alias is invalid.
        var none = Self.subscribed("t/#", configuration: Self.configuration(topicAliasMaximum: 0))
        guard
            case .protocolViolation(let zero) = none.packetReceived(Self.inbound("t/a", qos: .atMostOnce, alias: 1))
                .first
        else {
            Issue.record("expected a violation")
            return
        }
        #expect(zero.clientDisconnectReason == .topicAliasInvalid)
    }

    @Test func aTopicAliasOfZeroIsRefusedByTheDecoderAsTopicAliasInvalid() {
        // PUBLISH QoS 0 to "t" with properties: Topic Alias (0x23) 0.
        var bytes = ByteBuffer(bytes: [0x30, 0x07, 0x00, 0x01, 0x74, 0x03, 0x23, 0x00, 0x00] as [UInt8])
        do {
            _ = try MQTTPacket.read(from: &bytes)
            Issue.record("alias 0 was accepted")
        } catch {
            #expect(error.clientDisconnectReason == .topicAliasInvalid)
        }
    }

    // MARK: Session resumption

    /// A machine with four messages in flight: QoS 1 id 1, QoS 2 id 2 past PUBREC, QoS 2 id 3, QoS 1 id 4.
    static func withMessagesInFlight() -> Machine {
        var machine = Self.connected()
        _ = machine.publishRequested(1, Self.message("a", "1"))
        _ = machine.publishRequested(2, Self.message("b", "2", qos: .exactlyOnce))
        _ = machine.publishRequested(3, Self.message("c", "3", qos: .exactlyOnce))
        _ = machine.publishRequested(4, Self.message("d", "4"))
        _ = machine.packetReceived(.pubRec(MQTTPubRecPacket(packetIdentifier: 2)))
        return machine
    }

    @Test func aResumedSessionResendsInOriginalOrderWithDup() {
        var machine = Self.withMessagesInFlight()
        machine.connectionLost()
        _ = machine.publishRequested(5, Self.message("e", "5"))
        #expect(
            machine.connectionEstablished(Self.info(sessionPresent: true)) == [
                .send(Self.sent("a", "1", id: 1, dup: true)),
                .send(.pubRel(MQTTPubRelPacket(packetIdentifier: 2))),
                .send(Self.sent("c", "3", qos: .exactlyOnce, id: 3, dup: true)),
                .send(Self.sent("d", "4", id: 4, dup: true)),
                .send(Self.sent("e", "5", id: 5)),
            ])
        // The exchanges go on as before.
        #expect(
            machine.packetReceived(.pubComp(MQTTPubCompPacket(packetIdentifier: 2))) == [
                .completePublish(2, Self.success(2))
            ])
    }

    @Test func withoutASessionUnacknowledgedMessagesArePublishedAfreshAndQoS2PastPubRecFails() {
        var machine = Self.withMessagesInFlight()
        machine.connectionLost()
        let actions = machine.connectionEstablished(Self.info(sessionPresent: false))
        guard case .completePublish(2, .failure(let error)) = actions.first else {
            Issue.record("expected the QoS 2 message past PUBREC to fail: \(actions)")
            return
        }
        #expect(error.code == .sessionLost)
        // The others go again as new messages: new identifiers, DUP clear, in their original order.
        #expect(
            Array(actions.dropFirst()) == [
                .send(Self.sent("a", "1", id: 5)),
                .send(Self.sent("c", "3", qos: .exactlyOnce, id: 6)),
                .send(Self.sent("d", "4", id: 7)),
            ])
        #expect(machine.packetIdentifiers.inUse == [5, 6, 7])
    }

    @Test func inboundMessagesOfAResumedSessionAreAcknowledgedAfterTheServerSendsThemAgain() {
        var machine = Self.subscribed()
        _ = machine.packetReceived(Self.inbound("t/1", id: 7))
        _ = machine.packetReceived(Self.inbound("t/2", qos: .exactlyOnce, id: 8))
        machine.connectionLost()
        #expect(machine.connectionEstablished(Self.info(sessionPresent: true)) == [])
        // Taken while the server has not sent them again: acknowledging id 7 now could acknowledge a new message
        // the server sends with id 7 next.
        #expect(machine.messageTaken(1) == [])
        #expect(machine.messageTaken(2) == [])
        #expect(
            machine.packetReceived(Self.inbound("t/1", id: 7, dup: true)) == [
                .send(.pubAck(MQTTPubAckPacket(packetIdentifier: 7)))
            ])
        #expect(
            machine.packetReceived(Self.inbound("t/2", qos: .exactlyOnce, id: 8, dup: true)) == [
                .send(.pubRec(MQTTPubRecPacket(packetIdentifier: 8)))
            ])
    }

    @Test func aQoS2ReleaseSurvivesAReconnectWithTheSession() {
        var machine = Self.subscribed()
        _ = machine.packetReceived(Self.inbound("t/1", qos: .exactlyOnce, id: 8))
        _ = machine.messageTaken(1)
        machine.connectionLost()
        _ = machine.connectionEstablished(Self.info(sessionPresent: true))
        // The server did not see the PUBREC: it sends the PUBLISH again, which is not delivered again.
        #expect(
            machine.packetReceived(Self.inbound("t/1", qos: .exactlyOnce, id: 8, dup: true)) == [
                .send(.pubRec(MQTTPubRecPacket(packetIdentifier: 8)))
            ])
        #expect(
            machine.packetReceived(.pubRel(MQTTPubRelPacket(packetIdentifier: 8)))
                == [.send(.pubComp(MQTTPubCompPacket(packetIdentifier: 8)))])
    }

    @Test func withoutASessionInboundStateIsForgotten() {
        var machine = Self.subscribed()
        _ = machine.packetReceived(Self.inbound("t/1", qos: .exactlyOnce, id: 8))
        _ = machine.messageTaken(1)
        _ = machine.packetReceived(Self.inbound("t/2", id: 9))
        machine.connectionLost()
        let actions = machine.connectionEstablished(Self.info(sessionPresent: false))
        // The subscription is made again.
        guard case .send(.subscribe(let subscribe)) = actions.first, actions.count == 1 else {
            Issue.record("expected a SUBSCRIBE: \(actions)")
            return
        }
        #expect(subscribe.subscriptions.map(\.topicFilter) == ["t/#"])
        #expect(subscribe.properties.subscriptionIdentifiers == [1])
        #expect(machine.awaitingRelease.isEmpty && machine.inbound.isEmpty)
        // A message taken from the old session is acknowledged to nobody.
        #expect(machine.messageTaken(2) == [])
        // Id 8 is a new message now.
        #expect(machine.packetReceived(Self.inbound("t/3", qos: .exactlyOnce, id: 8)).count == 1)
    }

    // MARK: Subscriptions

    @Test func subscribeSendsOneSubscribeWithTheSubscriptionIdentifier() {
        var machine = Self.connected()
        let options = MQTTSubscriptionOptions(
            maximumQoS: .atLeastOnce, noLocal: true, retainAsPublished: true, retainHandling: .doNotSend)
        let actions = machine.subscribeRequested(
            1, id: 42,
            subscriptions: [
                MQTTSubscription(topicFilter: "a/+", options: options), MQTTSubscription(topicFilter: "b"),
            ],
            userProperties: [MQTTUserProperty(name: "k", value: "v")])
        var properties = MQTTProperties()
        properties.subscriptionIdentifiers = [42]
        properties.userProperties = [MQTTUserProperty(name: "k", value: "v")]
        #expect(
            actions == [
                .send(
                    .subscribe(
                        MQTTSubscribePacket(
                            packetIdentifier: 1,
                            subscriptions: [
                                MQTTSubscription(topicFilter: "a/+", options: options),
                                MQTTSubscription(topicFilter: "b"),
                            ], properties: properties)))
            ])
        #expect(
            machine.packetReceived(
                .subAck(MQTTSubAckPacket(packetIdentifier: 1, reasonCodes: [.grantedQoS1, .grantedQoS0])))
                == [.completeSubscribe(1, .success([.grantedQoS1, .grantedQoS0]))])
        #expect(machine.subscriptions[42]?.stage == .active)
    }

    @Test func aSubscribeWaitsForTheConnection() {
        var machine = Machine(configuration: Self.configuration())
        #expect(machine.subscribeRequested(1, id: 1, subscriptions: [MQTTSubscription(topicFilter: "a")]) == [])
        let actions = machine.connectionEstablished(Self.info(subscriptionIdentifiersAvailable: false))
        guard case .send(.subscribe(let subscribe)) = actions.first else {
            Issue.record("expected a SUBSCRIBE")
            return
        }
        // The server does not support Subscription Identifiers: none is sent.
        #expect(subscribe.properties.subscriptionIdentifiers.isEmpty)
    }

    @Test func aRefusedFilterFailsTheWholeSubscribeAndTheGrantedOnesAreRemoved() {
        var machine = Self.connected()
        _ = machine.subscribeRequested(
            1, id: 1, subscriptions: [MQTTSubscription(topicFilter: "ok"), MQTTSubscription(topicFilter: "secret")])
        let actions = machine.packetReceived(
            .subAck(MQTTSubAckPacket(packetIdentifier: 1, reasonCodes: [.grantedQoS0, .notAuthorized])))
        guard case .completeSubscribe(1, .failure(let error)) = actions.first else {
            Issue.record("expected a failure: \(actions)")
            return
        }
        #expect(error.code == .subscriptionRefused)
        #expect(error.reasonCode == .notAuthorized)
        #expect(
            Array(actions.dropFirst()) == [
                .send(.unsubscribe(MQTTUnsubscribePacket(packetIdentifier: 2, topicFilters: ["ok"])))
            ])
        #expect(machine.subscriptions.isEmpty)
        // The UNSUBACK of that clean-up completes nothing.
        #expect(
            machine.packetReceived(.unsubAck(MQTTUnsubAckPacket(packetIdentifier: 2, reasonCodes: [.success]))) == [])
    }

    @Test func aSubscriptionRefusedWhenMadeAgainAfterAReconnectIsFinished() {
        var machine = Self.subscribed("t/#")
        machine.connectionLost()
        _ = machine.connectionEstablished(Self.info())
        let actions = machine.packetReceived(
            .subAck(MQTTSubAckPacket(packetIdentifier: 2, reasonCodes: [.quotaExceeded])))
        guard case .finishSubscription(1, let error) = actions.first else {
            Issue.record("expected the subscription to finish: \(actions)")
            return
        }
        #expect(error.reasonCode == .quotaExceeded)
    }

    @Test func aSubAckWithTheWrongNumberOfCodesIsAProtocolViolation() {
        var machine = Self.connected()
        _ = machine.subscribeRequested(1, id: 1, subscriptions: [MQTTSubscription(topicFilter: "a")])
        guard
            case .protocolViolation = machine.packetReceived(
                .subAck(MQTTSubAckPacket(packetIdentifier: 1, reasonCodes: [.grantedQoS0, .grantedQoS0]))
            ).first
        else {
            Issue.record("expected a violation")
            return
        }
    }

    @Test func invalidFiltersAreRefusedLocally() {
        var machine = Self.connected()
        for subscription in [
            MQTTSubscription(topicFilter: "a/#/b"), MQTTSubscription(topicFilter: ""),
            MQTTSubscription(topicFilter: "$share/g/a", options: .init(noLocal: true)),
        ] {
            guard
                case .completeSubscribe(1, .failure(let error)) = machine.subscribeRequested(
                    1, id: 1, subscriptions: [subscription]
                ).first
            else {
                Issue.record("\(subscription) was not refused")
                continue
            }
            #expect(error.code == .invalidArgument)
        }
    }

    @Test func unsubscribeRemovesOnlyFiltersNoOtherSubscriptionUses() {
        var machine = Self.subscribed("t/#")
        _ = machine.subscribeRequested(
            2, id: 2, subscriptions: [MQTTSubscription(topicFilter: "t/#"), MQTTSubscription(topicFilter: "u")])
        _ = machine.packetReceived(
            .subAck(MQTTSubAckPacket(packetIdentifier: 2, reasonCodes: [.grantedQoS0, .grantedQoS0])))
        #expect(
            machine.unsubscribeRequested(3, id: 2)
                == [.send(.unsubscribe(MQTTUnsubscribePacket(packetIdentifier: 3, topicFilters: ["u"])))])
        #expect(
            machine.packetReceived(.unsubAck(MQTTUnsubAckPacket(packetIdentifier: 3, reasonCodes: [.success])))
                == [.completeUnsubscribe(3, .success([.success]))])
        // Messages stop going to the removed subscription at once.
        #expect(
            machine.packetReceived(Self.inbound("t/1", qos: .atMostOnce))
                == [.deliver(MQTTMessage(topic: "t/1", payload: buffer("x")), to: [1], delivery: nil)])
        #expect(
            machine.unsubscribeRequested(4, id: 1) == [
                .send(.unsubscribe(MQTTUnsubscribePacket(packetIdentifier: 4, topicFilters: ["t/#"])))
            ])
    }

    // MARK: Routing

    @Test func messagesAreRoutedBySubscriptionIdentifier() {
        var machine = Self.subscribed("t/#")
        _ = machine.subscribeRequested(2, id: 2, subscriptions: [MQTTSubscription(topicFilter: "t/+")])
        _ = machine.packetReceived(.subAck(MQTTSubAckPacket(packetIdentifier: 2, reasonCodes: [.grantedQoS0])))
        let message = MQTTMessage(topic: "t/x", payload: buffer("x"))
        var identified = message
        identified.properties.subscriptionIdentifiers = [2]
        #expect(
            machine.packetReceived(Self.inbound("t/x", qos: .atMostOnce, subscriptionIdentifiers: [2]))
                == [.deliver(identified, to: [2], delivery: nil)])
        identified.properties.subscriptionIdentifiers = [1, 2]
        #expect(
            machine.packetReceived(Self.inbound("t/x", qos: .atMostOnce, subscriptionIdentifiers: [1, 2]))
                == [.deliver(identified, to: [1, 2], delivery: nil)])
        // Without identifiers, every matching filter gets it.
        #expect(machine.route(message) == [1, 2])
        // An identifier whose subscription does not match (left from an earlier process's session) is ignored.
        var stale = MQTTMessage(topic: "other/x", payload: buffer("x"))
        stale.properties.subscriptionIdentifiers = [2]
        #expect(machine.route(stale) == [])
        stale.topic = "t/y/z"
        #expect(machine.route(stale) == [1])
    }

    @Test func sharedSubscriptionsMatchByTheirFilter() {
        let machine = Self.subscribed("$share/workers/jobs/+")
        #expect(machine.route(MQTTMessage(topic: "jobs/1", payload: buffer("x"))) == [1])
        #expect(machine.route(MQTTMessage(topic: "jobs", payload: buffer("x"))) == [])
    }

    // MARK: Shutting down

    @Test func shuttingDownFailsEverythingThatWaits() {
        var machine = Self.withMessagesInFlight()
        _ = machine.subscribeRequested(9, id: 9, subscriptions: [MQTTSubscription(topicFilter: "x")])
        machine.connectionLost()
        _ = machine.publishRequested(5, Self.message("e"))
        let error = MQTT5ClientError(.shutDown, "stopped")
        #expect(
            machine.shutDown(error) == [
                .completePublish(1, .failure(error)), .completePublish(2, .failure(error)),
                .completePublish(3, .failure(error)), .completePublish(4, .failure(error)),
                .completePublish(5, .failure(error)), .completeSubscribe(9, .failure(error)),
            ])
        #expect(machine.inFlight.isEmpty && machine.pendingPublishes.isEmpty && machine.subscriptions.isEmpty)
    }
}
