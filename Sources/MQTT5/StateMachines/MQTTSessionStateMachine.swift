import DequeModule
import NIOCore

/// The client's side of an MQTT session as a pure value: messages in flight both ways, Packet Identifiers, Topic
/// Aliases, subscriptions and the order of acknowledgements. It outlives connections: the driver reports each
/// connection's start (`connectionEstablished`) and end (`connectionLost`), and what the server sends in between.
/// Each method is an event and returns the ``Action``s to carry out, in order.
///
/// Outbound: a publish waits in a bounded queue until the client is connected and, for QoS 1 and 2, until fewer
/// than the server's Receive Maximum messages are unacknowledged. QoS 1 completes with PUBACK; QoS 2 goes
/// PUBLISH, PUBREC, PUBREL, PUBCOMP. A failure Reason Code in PUBACK or PUBREC fails the publish.
///
/// Inbound: a QoS 1 or 2 message is handed to the subscriptions it matches, and its PUBACK or PUBREC is held back
/// until every one of them has taken it from its stream (`messageTaken`). The server may not have more than the
/// client's Receive Maximum messages unacknowledged, so a slow consumer stops the server instead of growing
/// memory. Acknowledgements go out in the order the messages arrived (4.6), so one slow subscription holds back
/// the acknowledgements of messages that arrived after its own.
///
/// Reconnecting with Session Present (4.4): unacknowledged PUBLISH packets are sent again with DUP set, and PUBREL
/// for those past PUBREC, in their original order; a QoS 2 message the server sends again is not delivered twice.
/// Reconnecting without a session: the server has forgotten everything, so publishes not yet acknowledged are
/// sent again as new messages (new Packet Identifier, DUP clear), QoS 2 messages past PUBREC fail with
/// `sessionLost` (the server had them; sending them again could deliver them twice), and every subscription is
/// made again.
struct MQTTSessionStateMachine {
    /// A publish, subscribe or unsubscribe call waiting for its outcome.
    typealias RequestID = UInt64
    /// A subscription (one `subscribe` call); also its Subscription Identifier, so at most 268,435,455.
    typealias SubscriptionID = Int
    /// An inbound QoS 1 or 2 message handed to subscriptions, whose acknowledgement waits for them.
    typealias DeliveryID = UInt64

    struct Configuration: Hashable, Sendable {
        /// The Receive Maximum the client announces.
        var receiveMaximum: UInt16
        /// The Topic Alias Maximum the client announces: the highest alias the server may use.
        var topicAliasMaximum: UInt16
        /// The most Topic Aliases the client uses towards the server; the server's Topic Alias Maximum caps it too.
        var outboundTopicAliasMaximum: UInt16
        /// The most publishes waiting to be sent (for a connection, or for room under the server's Receive
        /// Maximum); more fail with `tooManyPendingRequests`.
        var maximumPendingPublishes: Int
        /// Whether a server that sends more than `receiveMaximum` unacknowledged messages is disconnected with
        /// Receive Maximum exceeded (0x93). Otherwise the driver stops reading while `isOverReceiveMaximum`.
        var strictReceiveMaximum: Bool = false
    }

    enum Action: Hashable, Sendable {
        /// Writes the packet.
        case send(MQTTPacket)
        /// Writes a QoS 0 PUBLISH; the publish `request` completes when the write does.
        case sendQoS0(MQTTPublishPacket, request: RequestID)
        case completePublish(RequestID, Result<MQTTPublishResult, MQTT5ClientError>)
        /// The SUBACK granted every filter: the granted QoS of each, in order.
        case completeSubscribe(RequestID, Result<[MQTTReasonCode], MQTT5ClientError>)
        case completeUnsubscribe(RequestID, Result<[MQTTReasonCode], MQTT5ClientError>)
        /// Hands the message to each subscription. With a delivery id (QoS 1 and 2), the driver reports
        /// `messageTaken` once for each subscription, when its consumer takes the message (or it is dropped).
        case deliver(MQTTMessage, to: [SubscriptionID], delivery: DeliveryID?)
        /// The subscription is over: the server refused it when it was made again after a reconnect.
        case finishSubscription(SubscriptionID, MQTT5ClientError)
        /// The server broke the protocol; the connection must end with DISCONNECT.
        case protocolViolation(MQTTProtocolError)
    }

    /// What lasts only as long as one connection.
    struct Connection: Hashable, Sendable {
        var info: MQTT5ConnectionInfo
        /// Topic Name to alias, for PUBLISH packets the client sends.
        var outboundAliases: [String: UInt16] = [:]
        /// The most aliases the client may assign on this connection.
        var outboundAliasLimit: Int
        /// Alias to Topic Name, set by the server's PUBLISH packets.
        var inboundAliases: [UInt16: String] = [:]
    }

    /// What the server's CONNACK allows a PUBLISH, copied out of `connection` for the publish path.
    private struct PublishLimits {
        var maximumPacketSize: Int
        var maximumQoS: MQTTQoS
        var retainAvailable: Bool
        var receiveMaximum: Int
    }

    /// The Topic Alias used last on this connection, with the properties of a PUBLISH that uses it and has no
    /// others: publishing to one topic again and again neither hashes its name nor builds properties each time.
    private struct LastOutboundAlias {
        var topicName: String
        var alias: UInt16
        var properties: MQTTProperties
    }

    struct OutboundPublish: Hashable, Sendable {
        enum Stage: Hashable, Sendable {
            /// Sent; waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
            case awaitingAcknowledgement
            /// PUBREL sent; waiting for PUBCOMP.
            case awaitingCompletion(MQTTPublishResult)
        }

        var request: RequestID
        /// The message with its Packet Identifier and full Topic Name, as it is sent again after a reconnect.
        var packet: MQTTPublishPacket
        /// The order of first sending, which a resumed session sends again in.
        var sequence: UInt64
        var stage: Stage
    }

    struct PendingPublish: Hashable, Sendable {
        var request: RequestID
        var packet: MQTTPublishPacket
    }

    struct Subscription: Hashable, Sendable {
        enum Stage: Hashable, Sendable {
            /// To be sent once connected.
            case unsent
            case awaitingSubAck(packetIdentifier: UInt16)
            case active
        }

        var id: SubscriptionID
        var subscriptions: [MQTTSubscription]
        var filters: [MQTTTopicFilter]
        var userProperties: [MQTTUserProperty]
        /// The `subscribe` call waiting for the first SUBACK.
        var request: RequestID?
        var stage: Stage
    }

    struct Unsubscribe: Hashable, Sendable {
        var request: RequestID?
        var topicFilters: [String]
    }

    /// A QoS 1 or 2 message received and not yet acknowledged.
    struct InboundMessage: Hashable, Sendable {
        var packetIdentifier: UInt16
        var qos: MQTTQoS
        /// Subscriptions that have not taken it yet; the acknowledgement waits until none is left.
        var remainingTakes: Int
        /// Received in an earlier connection of a resumed session: the acknowledgement waits until the server has
        /// sent the message again, as it must [MQTT-4.4.0-1]. Acknowledging before could acknowledge, by its
        /// Packet Identifier, a different message the server sends next.
        var awaitingRedelivery = false
    }

    let configuration: Configuration
    private(set) var connection: Connection? {
        didSet {
            limits = connection.map { connection in
                PublishLimits(
                    maximumPacketSize: connection.info.maximumPacketSize, maximumQoS: connection.info.maximumQoS,
                    retainAvailable: connection.info.retainAvailable,
                    receiveMaximum: Int(connection.info.receiveMaximum))
            }
            if connection == nil { lastOutboundAlias = nil }
        }
    }
    /// Set exactly while `connection` is (checking it copies nothing).
    private var limits: PublishLimits?
    private var lastOutboundAlias: LastOutboundAlias?

    private(set) var packetIdentifiers = MQTTPacketIdentifierAllocator()
    /// QoS 1 and 2 messages sent and not yet completed, by Packet Identifier.
    private(set) var inFlight: [UInt16: OutboundPublish] = [:]
    private var nextSequence: UInt64 = 0
    private(set) var pendingPublishes: Deque<PendingPublish> = []

    private(set) var subscriptions: [SubscriptionID: Subscription] = [:] {
        didSet {
            if subscriptions.count == 1, let only = subscriptions.first {
                onlySubscription = (only.key, only.value.filters)
            } else {
                onlySubscription = nil
            }
        }
    }
    /// The subscription and its filters when there is exactly one, for routing without copying it per message.
    private var onlySubscription: (id: SubscriptionID, filters: [MQTTTopicFilter])?
    private var subAckWaits: [UInt16: SubscriptionID] = [:]
    private var unsentUnsubscribes: Deque<Unsubscribe> = []
    private var unsubAckWaits: [UInt16: Unsubscribe] = [:]

    private var nextDelivery: DeliveryID = 1
    /// The first delivery of the current session: those before it were received in a session the server lost.
    private(set) var sessionStart: DeliveryID = 1
    private(set) var inbound: [DeliveryID: InboundMessage] = [:]
    /// Inbound deliveries in arrival order: the order their acknowledgements go out in.
    private var inboundOrder: Deque<DeliveryID> = []
    private var inboundByPacketIdentifier: [UInt16: DeliveryID] = [:]
    /// QoS 2 messages whose PUBREC was sent, waiting for PUBREL: a PUBLISH with one of these identifiers is a
    /// duplicate, answered with PUBREC and not delivered.
    private(set) var awaitingRelease: Set<UInt16> = []

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    var isConnected: Bool { connection != nil }

    /// Whether publishes wait for an acknowledgement or to be sent.
    var hasOutstandingPublishes: Bool { !inFlight.isEmpty || !pendingPublishes.isEmpty }

    // MARK: Connections

    /// CONNACK accepted a connection.
    mutating func connectionEstablished(_ info: MQTT5ConnectionInfo) -> [Action] {
        lastOutboundAlias = nil
        connection = Connection(
            info: info,
            outboundAliasLimit: Int(min(configuration.outboundTopicAliasMaximum, info.topicAliasMaximum)))
        var actions: [Action] = []
        if info.sessionPresent {
            resumeSession(into: &actions)
        } else {
            restartSession(into: &actions)
        }
        for id in subscriptions.keys.sorted() where subscriptions[id]!.stage == .unsent {
            sendSubscribe(id, into: &actions)
        }
        while let unsubscribe = unsentUnsubscribes.popFirst() {
            sendUnsubscribe(unsubscribe, into: &actions)
        }
        releaseAcknowledgements(into: &actions)
        releasePending(into: &actions)
        return actions
    }

    /// Session Present: the server kept the session. Unacknowledged messages go again, in their first order.
    private mutating func resumeSession(into actions: inout [Action]) {
        for delivery in inboundOrder {
            inbound[delivery]?.awaitingRedelivery = true
        }
        for publish in inFlight.values.sorted(by: { $0.sequence < $1.sequence }) {
            let identifier = publish.packet.packetIdentifier!
            switch publish.stage {
            case .awaitingAcknowledgement:
                var packet = publish.packet
                packet.dup = true
                actions.append(.send(.publish(packet)))
            case .awaitingCompletion:
                actions.append(.send(.pubRel(MQTTPubRelPacket(packetIdentifier: identifier))))
            }
        }
    }

    /// No session on the server (a first connection, or a lost one): nothing in flight survives there.
    private mutating func restartSession(into actions: inout [Action]) {
        var again: [PendingPublish] = []
        for publish in inFlight.values.sorted(by: { $0.sequence < $1.sequence }) {
            let identifier = publish.packet.packetIdentifier!
            packetIdentifiers.release(identifier)
            switch publish.stage {
            case .awaitingAcknowledgement:
                var packet = publish.packet
                packet.packetIdentifier = nil
                packet.dup = false
                again.append(PendingPublish(request: publish.request, packet: packet))
            case .awaitingCompletion:
                let error = MQTT5ClientError(
                    .sessionLost,
                    "QoS 2 message \(identifier) to '\(publish.packet.topicName)' was received by the server "
                        + "(PUBREC) but the server lost the session before PUBCOMP")
                actions.append(.completePublish(publish.request, .failure(error)))
            }
        }
        inFlight = [:]
        pendingPublishes.insert(contentsOf: again, at: 0)
        // Messages received in the lost session stay with their subscriptions, but there is nobody left to
        // acknowledge them to.
        sessionStart = nextDelivery
        inbound = [:]
        inboundOrder = []
        inboundByPacketIdentifier = [:]
        awaitingRelease = []
        // Unsubscribing is done: the server has no subscriptions. Every remaining subscription is made again.
        for unsubscribe in unsentUnsubscribes {
            if let request = unsubscribe.request { actions.append(.completeUnsubscribe(request, .success([]))) }
        }
        unsentUnsubscribes = []
        for id in subscriptions.keys {
            subscriptions[id]!.stage = .unsent
        }
    }

    /// The connection ended. Exchanges in flight wait for the next connection; SUBSCRIBE and UNSUBSCRIBE not
    /// yet answered are sent again then.
    mutating func connectionLost() {
        connection = nil
        for (identifier, id) in subAckWaits {
            packetIdentifiers.release(identifier)
            if subscriptions[id] != nil { subscriptions[id]!.stage = .unsent }
        }
        subAckWaits = [:]
        for identifier in unsubAckWaits.keys.sorted() {
            packetIdentifiers.release(identifier)
            unsentUnsubscribes.append(unsubAckWaits[identifier]!)
        }
        unsubAckWaits = [:]
    }

    /// The client stops: every request still waiting fails with `error`.
    mutating func shutDown(_ error: MQTT5ClientError) -> [Action] {
        var actions: [Action] = []
        for publish in inFlight.values.sorted(by: { $0.sequence < $1.sequence }) {
            actions.append(.completePublish(publish.request, .failure(error)))
        }
        for pending in pendingPublishes {
            actions.append(.completePublish(pending.request, .failure(error)))
        }
        for id in subscriptions.keys.sorted() {
            if let request = subscriptions[id]!.request { actions.append(.completeSubscribe(request, .failure(error))) }
        }
        for unsubscribe in Array(unsentUnsubscribes) + unsubAckWaits.values {
            if let request = unsubscribe.request { actions.append(.completeUnsubscribe(request, .failure(error))) }
        }
        connection = nil
        inFlight = [:]
        pendingPublishes = []
        subscriptions = [:]
        subAckWaits = [:]
        unsentUnsubscribes = []
        unsubAckWaits = [:]
        packetIdentifiers = MQTTPacketIdentifierAllocator()
        return actions
    }

    // MARK: Publishing

    /// The application publishes `packet` (Topic Name, payload, QoS, RETAIN, properties; no Packet Identifier).
    mutating func publishRequested(_ request: RequestID, _ packet: MQTTPublishPacket) -> [Action] {
        var actions: [Action] = []
        publishRequested(request, packet, into: &actions)
        return actions
    }

    /// `publishRequested`, appending the actions to `actions`: the driver takes many publishes at once.
    mutating func publishRequested(_ request: RequestID, _ packet: MQTTPublishPacket, into actions: inout [Action]) {
        if let error = Self.validateOutgoing(packet) {
            actions.append(.completePublish(request, .failure(error)))
            return
        }
        guard pendingPublishes.count < configuration.maximumPendingPublishes else {
            let error = MQTT5ClientError(
                .tooManyPendingRequests,
                "\(pendingPublishes.count) publishes already wait for the connection or the server's Receive Maximum")
            actions.append(.completePublish(request, .failure(error)))
            return
        }
        var pending = PendingPublish(request: request, packet: packet)
        if packet.packetIdentifier != nil || packet.dup {
            pending.packet.packetIdentifier = nil
            pending.packet.dup = false
        }
        // Nothing waiting before it: it goes at once, unless it has to wait for the connection or for room.
        if !pendingPublishes.isEmpty || !release(pending, into: &actions) {
            pendingPublishes.append(pending)
        }
    }

    private static func validateOutgoing(_ packet: MQTTPublishPacket) -> MQTT5ClientError? {
        do throws(MQTTProtocolError) {
            try MQTTTopic.validateName(packet.topicName)
            try packet.properties.validate(in: .publish)
        } catch {
            return MQTT5ClientError(.invalidArgument, "\(error)")
        }
        if packet.properties.topicAlias != nil {
            return MQTT5ClientError(.invalidArgument, "the client assigns Topic Aliases itself")
        }
        if !packet.properties.subscriptionIdentifiers.isEmpty {
            return MQTT5ClientError(.invalidArgument, "a client's PUBLISH may not carry Subscription Identifiers")
        }
        return nil
    }

    /// The caller stopped waiting. A publish still queued is dropped; one already sent goes on.
    mutating func publishCancelled(_ request: RequestID) {
        pendingPublishes.removeAll { $0.request == request }
    }

    /// Sends queued publishes while connected, in order: QoS 0 at once, QoS 1 and 2 while fewer than the server's
    /// Receive Maximum are unacknowledged and a Packet Identifier is free.
    private mutating func releasePending(into actions: inout [Action]) {
        while limits != nil, let head = pendingPublishes.popFirst() {
            guard release(head, into: &actions) else {
                pendingPublishes.prepend(head)
                return
            }
        }
    }

    /// Sends (or fails) one publish; false when it has to wait: no connection, or no room under the server's
    /// Receive Maximum, or no free Packet Identifier.
    private mutating func release(_ pending: PendingPublish, into actions: inout [Action]) -> Bool {
        guard let limits else { return false }
        let packet = pending.packet
        if packet.qos > limits.maximumQoS {
            let error = MQTT5ClientError(
                .qosNotSupported,
                "\(packet.qos) to '\(packet.topicName)'; the server's Maximum QoS is \(limits.maximumQoS)")
            actions.append(.completePublish(pending.request, .failure(error)))
            return true
        }
        if packet.retain && !limits.retainAvailable {
            let error = MQTT5ClientError(.retainNotSupported, "a retained message to '\(packet.topicName)'")
            actions.append(.completePublish(pending.request, .failure(error)))
            return true
        }
        if packet.qos == .atMostOnce {
            if let sent = aliased(
                packet, request: pending.request, maximumPacketSize: limits.maximumPacketSize, into: &actions)
            {
                actions.append(.sendQoS0(sent, request: pending.request))
            }
            return true
        }
        guard inFlight.count < limits.receiveMaximum, let identifier = packetIdentifiers.allocate() else {
            return false
        }
        var numbered = packet
        numbered.packetIdentifier = identifier
        guard
            let sent = aliased(
                numbered, request: pending.request, maximumPacketSize: limits.maximumPacketSize, into: &actions)
        else {
            packetIdentifiers.release(identifier)
            return true
        }
        inFlight[identifier] = OutboundPublish(
            request: pending.request, packet: numbered, sequence: nextSequence, stage: .awaitingAcknowledgement)
        nextSequence += 1
        actions.append(.send(.publish(sent)))
        return true
    }

    /// The form `packet` is sent in on this connection: with a Topic Alias when the server accepts aliases and one
    /// is (or can be) assigned to the topic, and within the server's Maximum Packet Size. Nil, with the publish
    /// failed, when it does not fit.
    private mutating func aliased(
        _ packet: MQTTPublishPacket,
        request: RequestID,
        maximumPacketSize maximum: Int,
        into actions: inout [Action]
    ) -> MQTTPublishPacket? {
        guard limits != nil else { return nil }
        var alias: UInt16?
        var isNewAlias = false
        if let last = lastOutboundAlias, last.topicName == packet.topicName {
            if packet.properties.isEmpty {
                // The usual repeat: the Topic Name replaced by the alias, properties prepared before.
                var short = packet
                short.topicName = ""
                short.properties = last.properties
                if let size = try? short.encodedSize(), size <= maximum { return short }
            }
            alias = last.alias
        } else if let known = connection!.outboundAliases[packet.topicName] {
            alias = known
        } else if connection!.outboundAliases.count < connection!.outboundAliasLimit {
            alias = UInt16(connection!.outboundAliases.count + 1)
            isNewAlias = true
        }
        var size = 0
        if let alias {
            var short = packet
            if !isNewAlias { short.topicName = "" }
            short.properties.topicAlias = alias
            do throws(MQTTProtocolError) {
                size = try short.encodedSize()
            } catch {
                actions.append(.completePublish(request, .failure(MQTT5ClientError(.invalidArgument, "\(error)"))))
                return nil
            }
            if size <= maximum {
                if isNewAlias { connection!.outboundAliases[packet.topicName] = alias }
                var aliasOnly = MQTTProperties()
                aliasOnly.topicAlias = alias
                lastOutboundAlias = LastOutboundAlias(topicName: packet.topicName, alias: alias, properties: aliasOnly)
                return short
            }
        }
        do throws(MQTTProtocolError) {
            size = try packet.encodedSize()
        } catch {
            actions.append(.completePublish(request, .failure(MQTT5ClientError(.invalidArgument, "\(error)"))))
            return nil
        }
        if size <= maximum { return packet }
        let error = MQTT5ClientError(
            .packetTooLarge,
            "a PUBLISH of \(size) bytes to '\(packet.topicName)'; the server accepts at most \(maximum)")
        actions.append(.completePublish(request, .failure(error)))
        return nil
    }

    private mutating func pubAckReceived(_ pubAck: MQTTPubAckPacket) -> [Action] {
        let identifier = pubAck.packetIdentifier
        guard let publish = inFlight[identifier], publish.packet.qos == .atLeastOnce else { return [] }
        inFlight[identifier] = nil
        packetIdentifiers.release(identifier)
        var actions: [Action] = [
            .completePublish(
                publish.request,
                Self.result(
                    "PUBACK", for: publish.packet, reasonCode: pubAck.reasonCode, properties: pubAck.properties))
        ]
        releasePending(into: &actions)
        return actions
    }

    private mutating func pubRecReceived(_ pubRec: MQTTPubRecPacket) -> [Action] {
        let identifier = pubRec.packetIdentifier
        guard let publish = inFlight[identifier], publish.packet.qos == .exactlyOnce else {
            // "the PUBREL ... Reason Code 0x92 (Packet Identifier not found)" answers a PUBREC nobody waits for.
            return [
                .send(.pubRel(MQTTPubRelPacket(packetIdentifier: identifier, reasonCode: .packetIdentifierNotFound)))
            ]
        }
        let result = Self.result(
            "PUBREC", for: publish.packet, reasonCode: pubRec.reasonCode, properties: pubRec.properties)
        switch result {
        case .failure:
            // A failure PUBREC ends the exchange: no PUBREL, and the identifier is free.
            inFlight[identifier] = nil
            packetIdentifiers.release(identifier)
            var actions: [Action] = [.completePublish(publish.request, result)]
            releasePending(into: &actions)
            return actions
        case .success(let success):
            inFlight[identifier]!.stage = .awaitingCompletion(success)
            return [.send(.pubRel(MQTTPubRelPacket(packetIdentifier: identifier)))]
        }
    }

    private mutating func pubCompReceived(_ pubComp: MQTTPubCompPacket) -> [Action] {
        let identifier = pubComp.packetIdentifier
        guard let publish = inFlight[identifier], case .awaitingCompletion(let result) = publish.stage else {
            return []
        }
        inFlight[identifier] = nil
        packetIdentifiers.release(identifier)
        // PUBCOMP's only failure is Packet Identifier not found: the server had already completed the exchange.
        var actions: [Action] = [.completePublish(publish.request, .success(result))]
        releasePending(into: &actions)
        return actions
    }

    private static func result(
        _ packetName: String,
        for packet: MQTTPublishPacket,
        reasonCode: MQTTReasonCode,
        properties: MQTTProperties
    ) -> Result<MQTTPublishResult, MQTT5ClientError> {
        if reasonCode.isFailure {
            return .failure(
                .server(
                    .publishRefused, "\(packetName) for the \(packet.qos) message to '\(packet.topicName)'",
                    reasonCode: reasonCode, properties: properties))
        }
        return .success(
            MQTTPublishResult(
                packetIdentifier: packet.packetIdentifier, reasonCode: reasonCode, properties: properties))
    }

    // MARK: Receiving

    /// A packet the connection forwarded: PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK or UNSUBACK.
    mutating func packetReceived(_ packet: MQTTPacket) -> [Action] {
        switch packet {
        case .publish(let publish): return publishReceived(publish)
        case .pubAck(let pubAck): return pubAckReceived(pubAck)
        case .pubRec(let pubRec): return pubRecReceived(pubRec)
        case .pubRel(let pubRel): return pubRelReceived(pubRel)
        case .pubComp(let pubComp): return pubCompReceived(pubComp)
        case .subAck(let subAck): return subAckReceived(subAck)
        case .unsubAck(let unsubAck): return unsubAckReceived(unsubAck)
        default: return []
        }
    }

    private mutating func publishReceived(_ publish: MQTTPublishPacket) -> [Action] {
        guard limits != nil else { return [] }
        var topic = publish.topicName
        var properties = publish.properties
        if let alias = properties.topicAlias {
            guard alias <= configuration.topicAliasMaximum else {
                return [
                    .protocolViolation(
                        MQTTProtocolError(
                            .invalidTopicAlias,
                            "Topic Alias \(alias); the client's Topic Alias Maximum is \(configuration.topicAliasMaximum)",
                            packetType: .publish))
                ]
            }
            if topic.isEmpty {
                guard let known = connection!.inboundAliases[alias] else {
                    return [
                        .protocolViolation(
                            MQTTProtocolError(
                                .missingTopicName, "Topic Alias \(alias) was never set on this connection",
                                packetType: .publish))
                    ]
                }
                topic = known
            } else {
                connection!.inboundAliases[alias] = topic
            }
            properties.topicAlias = nil
        }
        let message = MQTTMessage(
            topic: topic, payload: publish.payload, qos: publish.qos, retain: publish.retain, isDuplicate: publish.dup,
            properties: properties)
        guard let identifier = publish.packetIdentifier else {
            let targets = route(message)
            return targets.isEmpty ? [] : [.deliver(message, to: targets, delivery: nil)]
        }
        if let delivery = inboundByPacketIdentifier[identifier] {
            // Sent again after a reconnect: not delivered twice; the acknowledgement goes once the consumers have
            // taken the first copy.
            inbound[delivery]?.awaitingRedelivery = false
            var actions: [Action] = []
            releaseAcknowledgements(into: &actions)
            return actions
        }
        if publish.qos == .exactlyOnce && awaitingRelease.contains(identifier) {
            // Already delivered, PUBREC sent, no PUBREL yet: answer again, deliver nothing [MQTT-4.3.3-10].
            return [.send(.pubRec(MQTTPubRecPacket(packetIdentifier: identifier)))]
        }
        if configuration.strictReceiveMaximum
            && inbound.count + awaitingRelease.count >= Int(configuration.receiveMaximum)
        {
            return [
                .protocolViolation(
                    MQTTProtocolError(
                        .receiveMaximumExceeded,
                        "more than \(configuration.receiveMaximum) QoS 1 and 2 messages unacknowledged",
                        packetType: .publish))
            ]
        }
        if publish.qos == .atLeastOnce, awaitingRelease.contains(identifier) {
            // A QoS 1 message reusing the identifier of a QoS 2 exchange the server has not released.
            return [
                .protocolViolation(
                    MQTTProtocolError(
                        .invalidPacketIdentifier, "Packet Identifier \(identifier) is still in use by a QoS 2 message",
                        packetType: .publish))
            ]
        }
        let targets = route(message)
        let delivery = nextDelivery
        nextDelivery += 1
        inbound[delivery] = InboundMessage(
            packetIdentifier: identifier, qos: publish.qos, remainingTakes: targets.count)
        inboundOrder.append(delivery)
        inboundByPacketIdentifier[identifier] = delivery
        var actions: [Action] = targets.isEmpty ? [] : [.deliver(message, to: targets, delivery: delivery)]
        releaseAcknowledgements(into: &actions)
        return actions
    }

    /// Whether more QoS 1 and 2 messages wait for their consumers than the client's Receive Maximum allows: the
    /// server sent more than it may. (mosquitto 2.0.11 does, whenever messages queue for a client: acknowledging
    /// the oldest message in flight makes it send up to a whole Receive Maximum more.)
    var isOverReceiveMaximum: Bool {
        inbound.count > Int(configuration.receiveMaximum)
    }

    /// A subscription's consumer took the message (or the subscription dropped it): its acknowledgement may go.
    mutating func messageTaken(_ delivery: DeliveryID) -> [Action] {
        guard var message = inbound[delivery], message.remainingTakes > 0 else { return [] }
        message.remainingTakes -= 1
        inbound[delivery] = message
        var actions: [Action] = []
        releaseAcknowledgements(into: &actions)
        return actions
    }

    /// Sends PUBACK or PUBREC for the messages at the head of the arrival order that every subscription has taken.
    private mutating func releaseAcknowledgements(into actions: inout [Action]) {
        guard limits != nil else { return }
        while let head = inboundOrder.first, let message = inbound[head], message.remainingTakes == 0,
            !message.awaitingRedelivery
        {
            inboundOrder.removeFirst()
            inbound[head] = nil
            inboundByPacketIdentifier[message.packetIdentifier] = nil
            switch message.qos {
            case .atMostOnce:
                break
            case .atLeastOnce:
                actions.append(.send(.pubAck(MQTTPubAckPacket(packetIdentifier: message.packetIdentifier))))
            case .exactlyOnce:
                awaitingRelease.insert(message.packetIdentifier)
                actions.append(.send(.pubRec(MQTTPubRecPacket(packetIdentifier: message.packetIdentifier))))
            }
        }
    }

    private mutating func pubRelReceived(_ pubRel: MQTTPubRelPacket) -> [Action] {
        let identifier = pubRel.packetIdentifier
        guard awaitingRelease.remove(identifier) != nil else {
            return [
                .send(.pubComp(MQTTPubCompPacket(packetIdentifier: identifier, reasonCode: .packetIdentifierNotFound)))
            ]
        }
        return [.send(.pubComp(MQTTPubCompPacket(packetIdentifier: identifier)))]
    }

    /// The subscriptions a message goes to: by Subscription Identifier when the server sends them, else every
    /// subscription with a filter that matches the topic.
    ///
    /// Subscribing twice to the same filter makes one subscription on the server, whose identifier is the later
    /// one; so a subscription with the identical filter of an identified one gets the message too. An identifier
    /// whose subscription does not match the topic is ignored: it was given by an earlier process to a session
    /// the server kept, and names another subscription now.
    func route(_ message: MQTTMessage) -> [SubscriptionID] {
        if let only = onlySubscription {
            // With one subscription, identified or not, the message is its when a filter matches.
            return only.filters.contains { $0.matches(topicName: message.topic) } ? [only.id] : []
        }
        let identifiers = message.properties.subscriptionIdentifiers.filter { identifier in
            subscriptions[identifier]?.filters.contains { $0.matches(topicName: message.topic) } == true
        }
        if !identifiers.isEmpty {
            let identified = Set(identifiers)
            let filters = Set(identifiers.flatMap { subscriptions[$0]!.subscriptions.map(\.topicFilter) })
            return subscriptions.values.filter { subscription in
                identified.contains(subscription.id)
                    || subscription.filters.contains {
                        filters.contains($0.rawValue) && $0.matches(topicName: message.topic)
                    }
            }.map(\.id).sorted()
        }
        return subscriptions.values.filter { subscription in
            subscription.filters.contains { $0.matches(topicName: message.topic) }
        }.map(\.id).sorted()
    }

    // MARK: Subscriptions

    /// The application subscribes; `id` names the subscription (and is its Subscription Identifier).
    mutating func subscribeRequested(
        _ request: RequestID,
        id: SubscriptionID,
        subscriptions requested: [MQTTSubscription],
        userProperties: [MQTTUserProperty] = []
    ) -> [Action] {
        guard !requested.isEmpty else {
            return [.completeSubscribe(request, .failure(MQTT5ClientError(.invalidArgument, "no topic filter")))]
        }
        var filters: [MQTTTopicFilter] = []
        for subscription in requested {
            do throws(MQTTProtocolError) {
                try subscription.validate()
                filters.append(try MQTTTopicFilter(subscription.topicFilter))
            } catch {
                return [.completeSubscribe(request, .failure(MQTT5ClientError(.invalidArgument, "\(error)")))]
            }
        }
        subscriptions[id] = Subscription(
            id: id, subscriptions: requested, filters: filters, userProperties: userProperties, request: request,
            stage: .unsent)
        var actions: [Action] = []
        if connection != nil { sendSubscribe(id, into: &actions) }
        return actions
    }

    private mutating func sendSubscribe(_ id: SubscriptionID, into actions: inout [Action]) {
        guard let connection, var subscription = subscriptions[id], let identifier = packetIdentifiers.allocate()
        else { return }
        var properties = MQTTProperties()
        properties.userProperties = subscription.userProperties
        if connection.info.subscriptionIdentifiersAvailable { properties.subscriptionIdentifiers = [id] }
        let packet = MQTTPacket.subscribe(
            MQTTSubscribePacket(
                packetIdentifier: identifier, subscriptions: subscription.subscriptions, properties: properties))
        if let error = Self.sizeError(packet, maximum: connection.info.maximumPacketSize) {
            packetIdentifiers.release(identifier)
            subscriptions[id] = nil
            if let request = subscription.request {
                actions.append(.completeSubscribe(request, .failure(error)))
            } else {
                actions.append(.finishSubscription(id, error))
            }
            return
        }
        subscription.stage = .awaitingSubAck(packetIdentifier: identifier)
        subscriptions[id] = subscription
        subAckWaits[identifier] = id
        actions.append(.send(packet))
    }

    private static func sizeError(_ packet: MQTTPacket, maximum: Int) -> MQTT5ClientError? {
        var buffer = ByteBuffer()
        do throws(MQTTProtocolError) {
            try packet.write(into: &buffer, maximumPacketSize: maximum)
            return nil
        } catch {
            return MQTT5ClientError(error.code == .packetTooLarge ? .packetTooLarge : .invalidArgument, "\(error)")
        }
    }

    private mutating func subAckReceived(_ subAck: MQTTSubAckPacket) -> [Action] {
        let identifier = subAck.packetIdentifier
        guard let id = subAckWaits.removeValue(forKey: identifier) else { return [] }
        packetIdentifiers.release(identifier)
        guard var subscription = subscriptions[id], subscription.stage == .awaitingSubAck(packetIdentifier: identifier)
        else { return [] }
        guard subAck.reasonCodes.count == subscription.subscriptions.count else {
            return [
                .protocolViolation(
                    MQTTProtocolError(
                        .inconsistentFields,
                        "\(subAck.reasonCodes.count) Reason Codes for \(subscription.subscriptions.count) filters",
                        packetType: .subAck))
            ]
        }
        guard let refused = subAck.reasonCodes.firstIndex(where: \.isFailure) else {
            subscription.stage = .active
            let request = subscription.request
            subscription.request = nil
            subscriptions[id] = subscription
            return request.map { [.completeSubscribe($0, .success(subAck.reasonCodes))] } ?? []
        }
        // All or nothing: the filters the server granted are removed again.
        subscriptions[id] = nil
        let error = MQTT5ClientError.server(
            .subscriptionRefused, "SUBACK for '\(subscription.subscriptions[refused].topicFilter)'",
            reasonCode: subAck.reasonCodes[refused], properties: subAck.properties)
        var actions: [Action] = [
            subscription.request.map { .completeSubscribe($0, .failure(error)) } ?? .finishSubscription(id, error)
        ]
        let granted = zip(subscription.subscriptions, subAck.reasonCodes).filter { !$0.1.isFailure }.map(
            \.0.topicFilter)
        let unused = granted.filter { !isFilterInUse($0) }
        if !unused.isEmpty {
            sendUnsubscribe(Unsubscribe(request: nil, topicFilters: unused), into: &actions)
        }
        return actions
    }

    private func isFilterInUse(_ filter: String) -> Bool {
        subscriptions.values.contains { $0.subscriptions.contains { $0.topicFilter == filter } }
    }

    /// The application ends subscription `id` (or its handle went away, or its `subscribe` was cancelled). No more
    /// messages are routed to it at once; the filters no other subscription uses are unsubscribed.
    mutating func unsubscribeRequested(_ request: RequestID?, id: SubscriptionID) -> [Action] {
        guard let subscription = subscriptions.removeValue(forKey: id) else {
            return request.map { [.completeUnsubscribe($0, .success([]))] } ?? []
        }
        // Sent even when the SUBSCRIBE may not have reached the server (it went out before a reconnect): the server
        // answers No subscription existed (0x11) then.
        var filters: [String] = []
        for filter in subscription.subscriptions.map(\.topicFilter) where !isFilterInUse(filter) {
            if !filters.contains(filter) { filters.append(filter) }
        }
        guard !filters.isEmpty else {
            return request.map { [.completeUnsubscribe($0, .success([]))] } ?? []
        }
        var actions: [Action] = []
        sendUnsubscribe(Unsubscribe(request: request, topicFilters: filters), into: &actions)
        return actions
    }

    private mutating func sendUnsubscribe(_ unsubscribe: Unsubscribe, into actions: inout [Action]) {
        guard connection != nil, let identifier = packetIdentifiers.allocate() else {
            unsentUnsubscribes.append(unsubscribe)
            return
        }
        unsubAckWaits[identifier] = unsubscribe
        actions.append(
            .send(
                .unsubscribe(
                    MQTTUnsubscribePacket(packetIdentifier: identifier, topicFilters: unsubscribe.topicFilters))))
    }

    private mutating func unsubAckReceived(_ unsubAck: MQTTUnsubAckPacket) -> [Action] {
        let identifier = unsubAck.packetIdentifier
        guard let unsubscribe = unsubAckWaits.removeValue(forKey: identifier) else { return [] }
        packetIdentifiers.release(identifier)
        guard let request = unsubscribe.request else { return [] }
        if let refused = unsubAck.reasonCodes.firstIndex(where: \.isFailure) {
            let filter = refused < unsubscribe.topicFilters.count ? unsubscribe.topicFilters[refused] : "?"
            let error = MQTT5ClientError.server(
                .unsubscribeRefused, "UNSUBACK for '\(filter)'", reasonCode: unsubAck.reasonCodes[refused],
                properties: unsubAck.properties)
            return [.completeUnsubscribe(request, .failure(error))]
        }
        return [.completeUnsubscribe(request, .success(unsubAck.reasonCodes))]
    }
}
