import Foundation
import MQTT5
import MQTT5TestSupport
import NIOCore
import Testing

/// Our client and paho-mqtt 2.x (the Eclipse Python client) through one mosquitto 2.0: what one publishes the
/// other receives, at every QoS, retained or not, with its MQTT 5 properties intact.
@Suite(.enabled(if: PahoEnvironment.shouldRun, Comment(rawValue: PahoEnvironment.skipReason)))
struct PahoInteropTests {
    /// Properties a request/response exchange uses, with User Properties whose names repeat and are not ASCII, so
    /// that their order and encoding both show.
    static func requestProperties(_ tag: String) -> MQTTProperties {
        var properties = MQTTProperties()
        properties.userProperties = [
            MQTTUserProperty(name: "trace", value: "\(tag)-1"),
            MQTTUserProperty(name: "tenant", value: "ünïcødé ✓"),
            MQTTUserProperty(name: "trace", value: "\(tag)-2"),
            MQTTUserProperty(name: "", value: ""),
        ]
        properties.contentType = "application/json; charset=utf-8"
        properties.responseTopic = "interop/replies/\(tag)"
        properties.correlationData = ByteBuffer(bytes: [0, 1, 2, 0xFE, 0xFF] + Array(tag.utf8))
        properties.messageExpiryInterval = 3600
        properties.payloadFormatIndicator = .utf8
        return properties
    }

    /// A binary payload with an explicit "unspecified" Payload Format Indicator and one User Property: an explicit
    /// default must survive as well.
    static func binaryProperties() -> MQTTProperties {
        var properties = MQTTProperties()
        properties.userProperties = [MQTTUserProperty(name: "kind", value: "binary")]
        properties.payloadFormatIndicator = .unspecified
        return properties
    }

    static let binaryPayload: [UInt8] = Array(0...255)

    static func textPayload(_ tag: String) -> [UInt8] { Array(#"{"request":"\#(tag)","text":"grüße"}"#.utf8) }

    /// What one side publishes: QoS 0, 1 and 2 with request properties, then a binary payload at QoS 1.
    static func messages(under prefix: String) -> [PahoMessage] {
        MQTTQoS.allCases.map { qos in
            PahoMessage(
                topic: "\(prefix)/qos\(qos.rawValue)", payload: textPayload("q\(qos.rawValue)"), qos: qos,
                properties: requestProperties("q\(qos.rawValue)"))
        } + [
            PahoMessage(
                topic: "\(prefix)/binary", payload: binaryPayload, qos: .atLeastOnce, properties: binaryProperties())
        ]
    }

    /// Compares received properties with the published ones; the Message Expiry Interval arrives as what is left
    /// of it, so it is only checked to lie between 1 and the published value.
    static func expectIntact(
        _ received: MQTTProperties, _ published: MQTTProperties, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var received = received
        var published = published
        received.subscriptionIdentifiers = []
        if let sent = published.messageExpiryInterval {
            #expect((1...sent).contains(received.messageExpiryInterval ?? 0), sourceLocation: sourceLocation)
            received.messageExpiryInterval = nil
            published.messageExpiryInterval = nil
        }
        #expect(received == published, sourceLocation: sourceLocation)
    }

    // MARK: - Sluice publishes, paho receives

    @Test func pahoReceivesWhatWePublishAtEveryQoSWithItsProperties() async throws {
        try await withMosquitto { broker in
            let sent = Self.messages(under: "interop/to-paho")
            let paho = try await PahoOracle().subscribe(
                port: broker.port, topic: "interop/to-paho/#", qos: .exactlyOnce, count: sent.count)
            let client = makeClient(broker, id: "to-paho")
            do {
                try await whileRunning([client]) {
                    for message in sent {
                        let result = try await client.publish(
                            topic: message.topic, payload: ByteBuffer(bytes: message.payloadBytes),
                            qos: MQTTQoS(rawValue: UInt8(message.qos))!, properties: message.mqttProperties)
                        #expect(result.reasonCode == .success)
                    }
                }
            } catch {
                await paho.cancel()
                throw error
            }
            // MQTT orders messages of one QoS on one topic only: compared by topic.
            let received = try await paho.messages().sorted { $0.topic < $1.topic }
            #expect(received.map(\.topic) == sent.map(\.topic).sorted())
            for (message, original) in zip(received, sent.sorted { $0.topic < $1.topic }) {
                #expect(message.qos == original.qos, "\(message.topic)")
                #expect(message.retain == false, "\(message.topic)")
                #expect(message.payloadBytes == original.payloadBytes, "\(message.topic)")
                Self.expectIntact(message.mqttProperties, original.mqttProperties)
            }
        }
    }

    @Test func pahoReceivesOurRetainedMessageWithItsProperties() async throws {
        try await withMosquitto { broker in
            let client = makeClient(broker, id: "retain-for-paho")
            let properties = Self.requestProperties("retained")
            let result = try await whileRunning([client]) {
                try await client.publish(
                    topic: "interop/retained/by-sluice", payload: ByteBuffer(bytes: Self.textPayload("retained")),
                    qos: .atLeastOnce, retain: true, properties: properties)
            }
            // No subscriber yet: mosquitto answers No matching subscribers (0x10), a success.
            #expect(result.reasonCode.rawValue < 0x80)
            // paho subscribes only after the publisher has gone: the message can only come from the retained store.
            let paho = try await PahoOracle().subscribe(
                port: broker.port, topic: "interop/retained/#", qos: .exactlyOnce, count: 1)
            let received = try await paho.messages()
            #expect(received.map(\.topic) == ["interop/retained/by-sluice"])
            #expect(received.first?.retain == true)
            #expect(received.first?.qos == 1)
            #expect(received.first?.payloadBytes == Self.textPayload("retained"))
            if let message = received.first { Self.expectIntact(message.mqttProperties, properties) }
        }
    }

    // MARK: - paho publishes, Sluice receives

    @Test func weReceiveWhatPahoPublishesAtEveryQoSWithItsProperties() async throws {
        try await withMosquitto { broker in
            let sent = Self.messages(under: "interop/from-paho")
            let client = makeClient(broker, id: "from-paho")
            try await whileRunning([client]) {
                let subscription = try await client.subscribe(to: "interop/from-paho/#", qos: .exactlyOnce)
                let reasonCodes = try await PahoOracle().publish(port: broker.port, sent)
                #expect(reasonCodes.count == sent.count)
                let received = try await collect(sent.count, from: subscription).sorted { $0.topic < $1.topic }
                #expect(received.map(\.topic) == sent.map(\.topic).sorted())
                for (message, original) in zip(received, sent.sorted { $0.topic < $1.topic }) {
                    #expect(Int(message.qos.rawValue) == original.qos, "\(message.topic)")
                    #expect(message.retain == false, "\(message.topic)")
                    #expect(message.payload == ByteBuffer(bytes: original.payloadBytes), "\(message.topic)")
                    #expect(message.subscriptionIdentifiers == [subscription.identifier], "\(message.topic)")
                    Self.expectIntact(message.properties, original.mqttProperties)
                }
            }
        }
    }

    @Test func weReceivePahosRetainedMessageWithItsProperties() async throws {
        try await withMosquitto { broker in
            let properties = Self.requestProperties("retained")
            try await PahoOracle().publish(
                port: broker.port,
                [
                    PahoMessage(
                        topic: "interop/retained/by-paho", payload: Self.textPayload("retained"), qos: .exactlyOnce,
                        retain: true, properties: properties)
                ])
            let client = makeClient(broker, id: "retained-from-paho")
            try await whileRunning([client]) {
                let subscription = try await client.subscribe(to: "interop/retained/#", qos: .exactlyOnce)
                let message = try await collect(1, from: subscription)[0]
                #expect(message.topic == "interop/retained/by-paho")
                #expect(message.retain)
                #expect(message.qos == .exactlyOnce)
                #expect(message.payload == ByteBuffer(bytes: Self.textPayload("retained")))
                Self.expectIntact(message.properties, properties)
            }
        }
    }
}
