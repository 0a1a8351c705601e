import MQTT5
import NIOCore

/// Packets of every type, each with every property its type allows, plus the short forms.
extension Samples {
    /// One packet of each type with every property it allows.
    static var fullPackets: [MQTTPacket] {
        [
            .connect(
                MQTTConnectPacket(
                    clientIdentifier: "client-1", cleanStart: false, keepAlive: 65_535,
                    properties: allProperties(for: .connect),
                    will: MQTTWill(
                        topic: "clients/client-1/status", payload: ByteBuffer(string: "offline"), qos: .exactlyOnce,
                        retain: true, properties: allProperties(for: .will)),
                    userName: "alice", password: ByteBuffer(bytes: [0x00, 0x01, 0xFE]))),
            .connAck(MQTTConnAckPacket(sessionPresent: true, properties: allProperties(for: .connAck))),
            .publish(
                MQTTPublishPacket(
                    topicName: "sensors/ü/temperature", payload: ByteBuffer(string: "{\"c\":21.5}"),
                    qos: .exactlyOnce, retain: true, dup: true, packetIdentifier: 0xFFFF,
                    properties: allProperties(for: .publish))),
            .pubAck(
                MQTTPubAckPacket(
                    packetIdentifier: 1, reasonCode: .noMatchingSubscribers, properties: allProperties(for: .pubAck))),
            .pubRec(
                MQTTPubRecPacket(
                    packetIdentifier: 2, reasonCode: .quotaExceeded, properties: allProperties(for: .pubRec))
            ),
            .pubRel(
                MQTTPubRelPacket(
                    packetIdentifier: 3, reasonCode: .packetIdentifierNotFound, properties: allProperties(for: .pubRel))
            ),
            .pubComp(MQTTPubCompPacket(packetIdentifier: 4, properties: allProperties(for: .pubComp))),
            .subscribe(
                MQTTSubscribePacket(
                    packetIdentifier: 5,
                    subscriptions: [
                        MQTTSubscription(
                            topicFilter: "sport/+/player1/#",
                            options: MQTTSubscriptionOptions(
                                maximumQoS: .exactlyOnce, noLocal: true, retainAsPublished: true,
                                retainHandling: .doNotSend)),
                        MQTTSubscription(
                            topicFilter: "$share/group/a/b",
                            options: MQTTSubscriptionOptions(
                                maximumQoS: .atLeastOnce, retainHandling: .sendOnSubscribeIfNew)),
                        MQTTSubscription(topicFilter: "#"),
                    ], properties: allProperties(for: .subscribe))),
            .subAck(
                MQTTSubAckPacket(
                    packetIdentifier: 5, reasonCodes: [.grantedQoS2, .grantedQoS1, .notAuthorized],
                    properties: allProperties(for: .subAck))),
            .unsubscribe(
                MQTTUnsubscribePacket(
                    packetIdentifier: 6, topicFilters: ["sport/+/player1/#", "$share/group/a/b"],
                    properties: allProperties(for: .unsubscribe))),
            .unsubAck(
                MQTTUnsubAckPacket(
                    packetIdentifier: 6, reasonCodes: [.success, .noSubscriptionExisted],
                    properties: allProperties(for: .unsubAck))),
            .pingReq,
            .pingResp,
            .disconnect(
                MQTTDisconnectPacket(reasonCode: .serverMoved, properties: allProperties(for: .disconnect))),
            .auth(MQTTAuthPacket(reasonCode: .continueAuthentication, properties: allProperties(for: .auth))),
        ]
    }

    /// Packets with nothing optional: the short forms and a large payload whose Remaining Length takes three bytes.
    static var minimalPackets: [MQTTPacket] {
        [
            .connect(MQTTConnectPacket(clientIdentifier: "")),
            .connAck(MQTTConnAckPacket()),
            .publish(MQTTPublishPacket(topicName: "t", payload: ByteBuffer())),
            .publish(
                MQTTPublishPacket(
                    topicName: "big", payload: ByteBuffer(repeating: 0x5A, count: 20_000), qos: .atLeastOnce,
                    packetIdentifier: 9)),
            .pubAck(MQTTPubAckPacket(packetIdentifier: 1)),
            .pubRec(MQTTPubRecPacket(packetIdentifier: 2, reasonCode: .unspecifiedError)),
            .pubRel(MQTTPubRelPacket(packetIdentifier: 3)),
            .pubComp(MQTTPubCompPacket(packetIdentifier: 4)),
            .subscribe(MQTTSubscribePacket(packetIdentifier: 5, subscriptions: [MQTTSubscription(topicFilter: "a")])),
            .subAck(MQTTSubAckPacket(packetIdentifier: 5, reasonCodes: [.grantedQoS0])),
            .unsubscribe(MQTTUnsubscribePacket(packetIdentifier: 6, topicFilters: ["a"])),
            .unsubAck(MQTTUnsubAckPacket(packetIdentifier: 6, reasonCodes: [.success])),
            .disconnect(MQTTDisconnectPacket()),
            .disconnect(MQTTDisconnectPacket(reasonCode: .disconnectWithWillMessage)),
            .auth(MQTTAuthPacket()),
        ]
    }

    static var allPackets: [MQTTPacket] { fullPackets + minimalPackets }
}
