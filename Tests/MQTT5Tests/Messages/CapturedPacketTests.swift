import MQTT5
import NIOCore
import Testing

/// Packets written by other implementations, captured on the wire: mosquitto 2.0.11 (broker, `mosquitto_pub` and
/// `mosquitto_sub` with `-V mqttv5`) and paho-mqtt 2.2.0 for Python, talking through a logging proxy on
/// 127.0.0.1. They check the codec against independent encoders, byte for byte.
///
/// The last cases are the broker's answers to packets this codec wrote (CONNECT, SUBSCRIBE and PUBLISH with every
/// property a client may send, a Topic Alias, PUBREL, PINGREQ, UNSUBSCRIBE, DISCONNECT with properties), which
/// mosquitto accepted.
///
/// Property order is free (2.2.2.2) and other writers choose their own, so for packets whose properties this
/// codec would write in another order only the decoded value is compared; the rest must also re-encode to the
/// very bytes captured.
@Suite struct CapturedPacketTests {
    private func properties(_ set: (inout MQTTProperties) -> Void) -> MQTTProperties {
        var properties = MQTTProperties()
        set(&properties)
        return properties
    }

    /// Decodes `captured`, compares it with `expected`, and checks the value re-encodes to bytes that decode to it.
    private func check(
        _ captured: String,
        _ expected: MQTTPacket,
        sameBytes: Bool,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let decoded = try decode(bytes(captured))
        #expect(decoded == expected, sourceLocation: sourceLocation)
        let encoded = try encode(expected)
        if sameBytes {
            #expect(hex(encoded) == hex(bytes(captured)), sourceLocation: sourceLocation)
        } else {
            #expect(encoded.count == bytes(captured).count, sourceLocation: sourceLocation)
            #expect(try decode(encoded) == expected, sourceLocation: sourceLocation)
        }
    }

    @Test func mosquittoPubConnectWithWillCredentialsAndProperties() throws {
        // mosquitto_pub -u alice -P secret -k 30 --will-topic will/t --will-payload bye --will-qos 1 --will-retain
        //   -D will will-delay-interval 5 -D will content-type text/plain -D will user-property wk wv
        //   -D connect session-expiry-interval 120 -D connect receive-maximum 10
        //   -D connect maximum-packet-size 65536 -D connect topic-alias-maximum 5
        //   -D connect request-problem-information 1 -D connect request-response-information 1
        //   -D connect user-property ck cv -i pub1
        let connect = MQTTConnectPacket(
            clientIdentifier: "pub1", cleanStart: true, keepAlive: 30,
            properties: properties {
                $0.sessionExpiryInterval = 120
                $0.receiveMaximum = 10
                $0.maximumPacketSize = 65_536
                $0.topicAliasMaximum = 5
                $0.requestProblemInformation = true
                $0.requestResponseInformation = true
                $0.userProperties = [MQTTUserProperty(name: "ck", value: "cv")]
            },
            will: MQTTWill(
                topic: "will/t", payload: buffer("bye"), qos: .atLeastOnce, retain: true,
                properties: properties {
                    $0.willDelayInterval = 5
                    $0.contentType = "text/plain"
                    $0.userProperties = [MQTTUserProperty(name: "wk", value: "wv")]
                }),
            userName: "alice", password: buffer("secret"))
        try check(
            """
            106600044d51545405ee001e1d110000007821000a270001000022000517011901260002636b000263760004707562311b1800000005
            03000a746578742f706c61696e260002776b00027776000677696c6c2f7400036279650005616c6963650006736563726574
            """, .connect(connect), sameBytes: false)
    }

    @Test func mosquittoConnAcks() throws {
        // The broker's answer to every client: Topic Alias Maximum 10, Receive Maximum 20.
        try check(
            "200900000622000a210014",
            .connAck(
                MQTTConnAckPacket(
                    properties: properties {
                        $0.topicAliasMaximum = 10
                        $0.receiveMaximum = 20
                    })),
            sameBytes: false)
        // To paho connecting with an empty Client Identifier: an Assigned Client Identifier.
        try check(
            """
            203500003222000a1200296175746f2d32454339363730422d413746412d304446362d373433452d4637434136423030
            37314344210014
            """,
            .connAck(
                MQTTConnAckPacket(
                    properties: properties {
                        $0.topicAliasMaximum = 10
                        $0.assignedClientIdentifier = "auto-2EC9670B-A7FA-0DF6-743E-F7CA6B0071CD"
                        $0.receiveMaximum = 20
                    })), sameBytes: false)
        // To a CONNECT with an Authentication Method it does not support.
        try check("2003008c00", .connAck(MQTTConnAckPacket(reasonCode: .badAuthenticationMethod)), sameBytes: true)
    }

    @Test func mosquittoConnectWithAuthenticationMethodAndData() throws {
        try check(
            "102900044d5154540502003c1715000b534352414d2d5348412d3116000361626321001400056175746831",
            .connect(
                MQTTConnectPacket(
                    clientIdentifier: "auth1",
                    properties: properties {
                        $0.authenticationMethod = "SCRAM-SHA-1"
                        $0.authenticationData = buffer("abc")
                        $0.receiveMaximum = 20
                    })), sameBytes: true)
    }

    @Test func mosquittoPublishes() throws {
        // mosquitto_pub -q 1 -t sport/tennis -m hello -D publish content-type text/plain -D publish user-property a b
        //   -D publish payload-format-indicator 1 -D publish message-expiry-interval 60
        //   -D publish response-topic reply/here -D publish correlation-data abc
        let published = properties {
            $0.contentType = "text/plain"
            $0.userProperties = [MQTTUserProperty(name: "a", value: "b")]
            $0.payloadFormatIndicator = .utf8
            $0.messageExpiryInterval = 60
            $0.responseTopic = "reply/here"
            $0.correlationData = buffer("abc")
        }
        try check(
            """
            3244000c73706f72742f74656e6e697300012e03000a746578742f706c61696e260001610001620101020000003c08000a7265
            706c792f6865726509000361626368656c6c6f
            """,
            .publish(
                MQTTPublishPacket(
                    topicName: "sport/tennis", payload: buffer("hello"), qos: .atLeastOnce, packetIdentifier: 1,
                    properties: published)), sameBytes: false)
        // The same message as the broker forwards it to a subscriber with Subscription Identifier 7.
        var forwarded = published
        forwarded.subscriptionIdentifiers = [7]
        try check(
            """
            3246000c73706f72742f74656e6e69730001300b0703000a746578742f706c61696e260001610001620101
            08000a7265706c792f68657265090003616263020000003c68656c6c6f
            """,
            .publish(
                MQTTPublishPacket(
                    topicName: "sport/tennis", payload: buffer("hello"), qos: .atLeastOnce, packetIdentifier: 1,
                    properties: forwarded)), sameBytes: false)
        // QoS 0 from the client, and as forwarded with the Subscription Identifier.
        try check(
            "300f000a73706f72742f676f6c66007130",
            .publish(MQTTPublishPacket(topicName: "sport/golf", payload: buffer("q0"))), sameBytes: true)
        try check(
            "3011000a73706f72742f676f6c66020b077130",
            .publish(
                MQTTPublishPacket(
                    topicName: "sport/golf", payload: buffer("q0"),
                    properties: properties { $0.subscriptionIdentifiers = [7] })), sameBytes: true)
        // QoS 2 with a User Property, from the client and as forwarded.
        let userProperty = [MQTTUserProperty(name: "x", value: "y")]
        try check(
            "3419000b73706f72742f6368657373000107260001780001797132",
            .publish(
                MQTTPublishPacket(
                    topicName: "sport/chess", payload: buffer("q2"), qos: .exactlyOnce, packetIdentifier: 1,
                    properties: properties { $0.userProperties = userProperty })), sameBytes: true)
        try check(
            "341b000b73706f72742f63686573730002090b07260001780001797132",
            .publish(
                MQTTPublishPacket(
                    topicName: "sport/chess", payload: buffer("q2"), qos: .exactlyOnce, packetIdentifier: 2,
                    properties: properties {
                        $0.subscriptionIdentifiers = [7]
                        $0.userProperties = userProperty
                    })), sameBytes: true)
    }

    @Test func pahoPublishesWithATopicAlias() throws {
        try check(
            "34100003742f610002032300016669727374",
            .publish(
                MQTTPublishPacket(
                    topicName: "t/a", payload: buffer("first"), qos: .exactlyOnce, packetIdentifier: 2,
                    properties: properties { $0.topicAlias = 1 })), sameBytes: true)
        // The alias alone, with an empty Topic Name.
        try check(
            "320e00000003032300017365636f6e64",
            .publish(
                MQTTPublishPacket(
                    topicName: "", payload: buffer("second"), qos: .atLeastOnce, packetIdentifier: 3,
                    properties: properties { $0.topicAlias = 1 })), sameBytes: true)
        // The broker forwarding to a subscription with Subscription Identifier 268,435,455 (four bytes).
        try check(
            "34120003742f610001050bffffff7f6669727374",
            .publish(
                MQTTPublishPacket(
                    topicName: "t/a", payload: buffer("first"), qos: .exactlyOnce, packetIdentifier: 1,
                    properties: properties { $0.subscriptionIdentifiers = [268_435_455] })), sameBytes: true)
    }

    @Test func acknowledgementsInTheirShortForm() throws {
        try check("40020001", .pubAck(MQTTPubAckPacket(packetIdentifier: 1)), sameBytes: true)
        try check("50020001", .pubRec(MQTTPubRecPacket(packetIdentifier: 1)), sameBytes: true)
        try check("62020001", .pubRel(MQTTPubRelPacket(packetIdentifier: 1)), sameBytes: true)
        try check("70020001", .pubComp(MQTTPubCompPacket(packetIdentifier: 1)), sameBytes: true)
    }

    @Test func mosquittoSubscribeAndSubAck() throws {
        // mosquitto_sub -q 2 -t 'sport/#' -D subscribe subscription-identifier 7 -D subscribe user-property sk sv
        try check(
            "821800010b0b07260002736b00027376000773706f72742f2302",
            .subscribe(
                MQTTSubscribePacket(
                    packetIdentifier: 1,
                    subscriptions: [
                        MQTTSubscription(
                            topicFilter: "sport/#", options: MQTTSubscriptionOptions(maximumQoS: .exactlyOnce))
                    ],
                    properties: properties {
                        $0.subscriptionIdentifiers = [7]
                        $0.userProperties = [MQTTUserProperty(name: "sk", value: "sv")]
                    })), sameBytes: true)
        try check(
            "900400010002", .subAck(MQTTSubAckPacket(packetIdentifier: 1, reasonCodes: [.grantedQoS2])),
            sameBytes: true)
        try check(
            "820f0001000003612f62000003632f2b00",
            .subscribe(
                MQTTSubscribePacket(
                    packetIdentifier: 1,
                    subscriptions: [MQTTSubscription(topicFilter: "a/b"), MQTTSubscription(topicFilter: "c/+")])),
            sameBytes: true)
        try check(
            "90050001000000",
            .subAck(MQTTSubAckPacket(packetIdentifier: 1, reasonCodes: [.grantedQoS0, .grantedQoS0])),
            sameBytes: true)
    }

    @Test func pahoSubscribeWithEveryOption() throws {
        // SubscribeOptions(qos=1, noLocal=True, retainAsPublished=True, retainHandling=2) and a shared
        // subscription at QoS 2; Subscription Identifier 268,435,455 and two User Properties named "a".
        try check(
            """
            822d0001130bffffff7f26000161000131260001610001320005742f2b2f782d000c2473686172652f672f742f2302
            """,
            .subscribe(
                MQTTSubscribePacket(
                    packetIdentifier: 1,
                    subscriptions: [
                        MQTTSubscription(
                            topicFilter: "t/+/x",
                            options: MQTTSubscriptionOptions(
                                maximumQoS: .atLeastOnce, noLocal: true, retainAsPublished: true,
                                retainHandling: .doNotSend)),
                        MQTTSubscription(
                            topicFilter: "$share/g/t/#", options: MQTTSubscriptionOptions(maximumQoS: .exactlyOnce)),
                    ],
                    properties: properties {
                        $0.subscriptionIdentifiers = [268_435_455]
                        $0.userProperties = [
                            MQTTUserProperty(name: "a", value: "1"), MQTTUserProperty(name: "a", value: "2"),
                        ]
                    })), sameBytes: true)
        try check(
            "90050001000102",
            .subAck(MQTTSubAckPacket(packetIdentifier: 1, reasonCodes: [.grantedQoS1, .grantedQoS2])),
            sameBytes: true)
    }

    @Test func unsubscribesAndUnsubAcks() throws {
        // mosquitto_sub -U a/b -D unsubscribe user-property uk uv
        try check(
            "a211000209260002756b000275760003612f62",
            .unsubscribe(
                MQTTUnsubscribePacket(
                    packetIdentifier: 2, topicFilters: ["a/b"],
                    properties: properties { $0.userProperties = [MQTTUserProperty(name: "uk", value: "uv")] })),
            sameBytes: true)
        try check(
            "b00400020000", .unsubAck(MQTTUnsubAckPacket(packetIdentifier: 2, reasonCodes: [.success])),
            sameBytes: true)
        // paho, two filters, one of them shared.
        try check(
            "a22400040c2600037768790004646f6e650005742f2b2f78000c2473686172652f672f742f23",
            .unsubscribe(
                MQTTUnsubscribePacket(
                    packetIdentifier: 4, topicFilters: ["t/+/x", "$share/g/t/#"],
                    properties: properties { $0.userProperties = [MQTTUserProperty(name: "why", value: "done")] })),
            sameBytes: true)
        try check(
            "b0050004000000",
            .unsubAck(MQTTUnsubAckPacket(packetIdentifier: 4, reasonCodes: [.success, .success])), sameBytes: true)
    }

    @Test func pingsAndDisconnects() throws {
        try check("c000", .pingReq, sameBytes: true)
        try check("d000", .pingResp, sameBytes: true)
        try check("e000", .disconnect(MQTTDisconnectPacket()), sameBytes: true)
        // mosquitto_sub stopped by a signal.
        try check(
            "e00104", .disconnect(MQTTDisconnectPacket(reasonCode: .disconnectWithWillMessage)), sameBytes: true)
        // paho: Disconnect with Will Message, Session Expiry Interval 0, a Reason String and a User Property.
        try check(
            "e014041211000000001f00036279652600016b000176",
            .disconnect(
                MQTTDisconnectPacket(
                    reasonCode: .disconnectWithWillMessage,
                    properties: properties {
                        $0.sessionExpiryInterval = 0
                        $0.reasonString = "bye"
                        $0.userProperties = [MQTTUserProperty(name: "k", value: "v")]
                    })), sameBytes: true)
    }

    @Test func pahoConnectWithAnEmptyClientIdentifier() throws {
        try check(
            "101700044d5154540502002d0a110000012c27001000000000",
            .connect(
                MQTTConnectPacket(
                    clientIdentifier: "", keepAlive: 45,
                    properties: properties {
                        $0.sessionExpiryInterval = 300
                        $0.maximumPacketSize = 1_048_576
                    })), sameBytes: true)
    }

    @Test func mosquittoAnswersToPacketsThisCodecWrote() throws {
        // SUBACK for "sport/+/player1/#" at QoS 2, "$share/group/a/b" at QoS 1 and "#" at QoS 0.
        try check(
            "9006000500020100",
            .subAck(MQTTSubAckPacket(packetIdentifier: 5, reasonCodes: [.grantedQoS2, .grantedQoS1, .grantedQoS0])),
            sameBytes: true)
        // The QoS 2 PUBLISH with every client property, forwarded on "#" (Subscription Identifier 127) with the
        // Topic Alias resolved and the Message Expiry Interval counted down.
        var forwarded = Samples.allProperties(for: .publish)
        forwarded.subscriptionIdentifiers = [127]
        forwarded.topicAlias = nil
        forwarded.messageExpiryInterval = 3598
        try check(
            """
            305a000f73706f72742f782f706c6179657231450b7f01010300106170706c69636174696f6e2f6a736f6e08000d7265706c69
            65732fc3a96c616e09000300ff102600016b00013126000000002600016b0001320200000e0e6f6e65
            """,
            .publish(
                MQTTPublishPacket(topicName: "sport/x/player1", payload: buffer("one"), properties: forwarded)),
            sameBytes: false)
        // The PUBLISH sent with an empty Topic Name and only the Topic Alias, forwarded with its Topic Name.
        try check(
            "3017000f73706f72742f782f706c6179657231020b7f74776f",
            .publish(
                MQTTPublishPacket(
                    topicName: "sport/x/player1", payload: buffer("two"),
                    properties: properties { $0.subscriptionIdentifiers = [127] })), sameBytes: true)
    }
}
