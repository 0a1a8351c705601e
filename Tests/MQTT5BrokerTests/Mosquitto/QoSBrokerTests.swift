import Foundation
import MQTT5
import MQTT5TestSupport
import NIOCore
import Testing

/// Publishing and receiving at every QoS against mosquitto 2.0, between two of our clients and with mosquitto's
/// own command-line clients as independent peers.
@Suite(.enabled(if: MosquittoEnvironment.shouldRun, Comment(rawValue: MosquittoEnvironment.skipReason)))
struct QoSBrokerTests {
    @Test func everyQoSIsPublishedAndReceivedAtTheLowerOfPublicationAndSubscription() async throws {
        try await withMosquitto { broker in
            let subscriber = makeClient(broker, id: "qos-subscriber")
            let publisher = makeClient(broker, id: "qos-publisher")
            try await whileRunning([subscriber, publisher]) {
                for subscriptionQoS in MQTTQoS.allCases {
                    let subscription = try await subscriber.subscribe(
                        to: "qos/\(subscriptionQoS.rawValue)/#", qos: subscriptionQoS)
                    #expect(subscription.grantedQoS == [MQTTReasonCode(rawValue: subscriptionQoS.rawValue)])
                    for publishQoS in MQTTQoS.allCases {
                        let result = try await publisher.publish(
                            topic: "qos/\(subscriptionQoS.rawValue)/\(publishQoS.rawValue)",
                            payload: ByteBuffer(string: "published at \(publishQoS)"), qos: publishQoS)
                        #expect(result.reasonCode == .success)
                        #expect((result.packetIdentifier == nil) == (publishQoS == .atMostOnce))
                    }
                    let messages = try await collect(3, from: subscription)
                    #expect(
                        messages.map(\.topic)
                            == MQTTQoS.allCases.map { "qos/\(subscriptionQoS.rawValue)/\($0.rawValue)" })
                    #expect(messages.map(\.qos) == MQTTQoS.allCases.map { min($0, subscriptionQoS) })
                    #expect(messages.map(\.text) == MQTTQoS.allCases.map { "published at \($0)" })
                    #expect(messages.allSatisfy { $0.subscriptionIdentifiers == [subscription.identifier] })
                    try await subscription.unsubscribe()
                }
            }
        }
    }

    @Test func messagePropertiesArriveAsPublished() async throws {
        try await withMosquitto { broker in
            let client = makeClient(broker, id: "properties")
            try await whileRunning([client]) {
                let subscription = try await client.subscribe(to: "props/+", qos: .exactlyOnce)
                var properties = MQTTProperties()
                properties.userProperties = [
                    MQTTUserProperty(name: "trace", value: "abc"), MQTTUserProperty(name: "trace", value: "def"),
                ]
                properties.contentType = "application/json"
                properties.responseTopic = "props/replies"
                properties.correlationData = ByteBuffer(bytes: [1, 2, 3, 0, 255])
                properties.messageExpiryInterval = 3600
                properties.payloadFormatIndicator = .utf8
                try await client.publish(
                    topic: "props/request", payload: ByteBuffer(string: #"{"q":1}"#), qos: .exactlyOnce,
                    properties: properties)
                let message = try await collect(1, from: subscription)[0]
                #expect(message.topic == "props/request")
                #expect(message.text == #"{"q":1}"#)
                #expect(message.userProperties == properties.userProperties)
                #expect(message.contentType == "application/json")
                #expect(message.responseTopic == "props/replies")
                #expect(message.correlationData == ByteBuffer(bytes: [1, 2, 3, 0, 255]))
                #expect(message.payloadFormatIndicator == .utf8)
                // The server sends what is left of the lifetime.
                #expect((1...3600).contains(message.messageExpiryInterval ?? 0))
                #expect(message.subscriptionIdentifiers == [subscription.identifier])
            }
        }
    }

    @Test func mosquittoSubReceivesOurMessagesAtEveryQoS() async throws {
        try await withMosquitto { broker in
            let tool = try MosquittoTool.start(
                "mosquitto_sub",
                [
                    "-V", "mqttv5", "-h", "127.0.0.1", "-p", "\(broker.port)", "-i", "interop-sub", "-t", "interop/out",
                    "-q", "2", "-C", "3", "-F", "MSG %q %p",
                ])
            let output: String
            do {
                // Its output is buffered until it exits: the broker's log says when it has subscribed.
                try await eventually("mosquitto_sub subscribed") {
                    broker.log.contains("Sending SUBACK to interop-sub")
                }
                let client = makeClient(broker, id: "to-mosquitto-sub")
                try await whileRunning([client]) {
                    for qos in MQTTQoS.allCases {
                        try await client.publish(
                            topic: "interop/out", payload: ByteBuffer(string: "m\(qos.rawValue)"), qos: qos)
                    }
                }
                output = try await tool.waitForOutput(timeout: .seconds(20))
            } catch {
                await tool.cancel()
                throw error
            }
            let lines = output.split(separator: "\n").filter { $0.hasPrefix("MSG ") }
            #expect(lines == ["MSG 0 m0", "MSG 1 m1", "MSG 2 m2"])
        }
    }

    @Test func weReceiveMosquittoPubMessagesAtEveryQoS() async throws {
        try await withMosquitto { broker in
            let client = makeClient(broker, id: "from-mosquitto-pub")
            try await whileRunning([client]) {
                let subscription = try await client.subscribe(to: "interop/in/#", qos: .exactlyOnce)
                for qos in MQTTQoS.allCases {
                    _ = try await runMosquittoTool(
                        "mosquitto_pub",
                        [
                            "-V", "mqttv5", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t",
                            "interop/in/\(qos.rawValue)",
                            "-q", "\(qos.rawValue)", "-m", "from mosquitto_pub", "-D", "publish", "user-property",
                            "origin", "mosquitto_pub",
                        ])
                }
                let messages = try await collect(3, from: subscription)
                #expect(messages.map(\.topic) == ["interop/in/0", "interop/in/1", "interop/in/2"])
                #expect(messages.map(\.qos) == MQTTQoS.allCases)
                #expect(messages.allSatisfy { $0.text == "from mosquitto_pub" })
                #expect(
                    messages.allSatisfy {
                        $0.userProperties == [MQTTUserProperty(name: "origin", value: "mosquitto_pub")]
                    })
            }
        }
    }

    @Test func enqueuedPublishesArriveInOrderAndDisconnectWaitsForThem() async throws {
        try await withMosquitto { broker in
            let subscriber = makeClient(broker, id: "enqueue-subscriber")
            // A small bound, so that enqueuing waits for room again and again.
            let publisher = makeClient(broker, id: "enqueue-publisher") { $0.maximumPendingPublishes = 5 }
            try await whileRunning([subscriber]) {
                let subscription = try await subscriber.subscribe(to: "enqueue/#", qos: .atLeastOnce)
                let count = 200
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await publisher.run() }
                    try await publisher.waitUntilConnected()
                    for index in 0..<count {
                        try await publisher.enqueuePublish(
                            topic: "enqueue/\(index % 3)", payload: ByteBuffer(string: "\(index)"), qos: .atLeastOnce)
                    }
                    // Returns once every enqueued message is acknowledged.
                    try await publisher.disconnect()
                    try await group.waitForAll()
                }
                #expect(publisher.failedEnqueuedPublishCount == 0)
                let messages = try await collect(count, from: subscription)
                #expect(messages.map { Int($0.text)! } == Array(0..<count))
            }
        }
    }

    @Test func manyConcurrentQoS2PublishesArriveExactlyOnce() async throws {
        try await withMosquitto { broker in
            let subscriber = makeClient(broker, id: "qos2-many-subscriber") { $0.receiveMaximum = 8 }
            let publisher = makeClient(broker, id: "qos2-many-publisher")
            try await whileRunning([subscriber, publisher]) {
                let subscription = try await subscriber.subscribe(to: "many/#", qos: .exactlyOnce)
                let count = 300
                // Many publishes at once: they queue behind mosquitto's Receive Maximum (20), which the client
                // respects; each completes on its PUBCOMP.
                try await withThrowingTaskGroup(of: MQTTPublishResult.self) { group in
                    for index in 0..<count {
                        group.addTask {
                            try await publisher.publish(
                                topic: "many/\(index % 7)", payload: ByteBuffer(string: "\(index)"), qos: .exactlyOnce)
                        }
                    }
                    for try await result in group {
                        #expect(result.reasonCode == .success)
                    }
                }
                let messages = try await collect(count, from: subscription, timeout: .seconds(60))
                let payloads = messages.map { Int($0.text)! }
                #expect(Set(payloads).count == count)
                #expect(messages.allSatisfy { $0.qos == .exactlyOnce })
            }
        }
    }
}
