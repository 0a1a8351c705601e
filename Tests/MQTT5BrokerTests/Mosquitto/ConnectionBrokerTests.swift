import Foundation
import MQTT5TestSupport
import NIOCore
import Testing

@testable import MQTT5

/// What happens to connections against mosquitto 2.0: Will Messages, a session taken over, limits the broker
/// announces, Topic Aliases, reconnection after a restart.
@Suite(.enabled(if: MosquittoEnvironment.shouldRun, Comment(rawValue: MosquittoEnvironment.skipReason)))
struct ConnectionBrokerTests {
    static func isConnected(_ event: MQTT5ConnectionEvent) -> Bool {
        if case .connected = event { return true }
        return false
    }

    static func isDisconnected(_ event: MQTT5ConnectionEvent) -> Bool {
        if case .disconnected = event { return true }
        return false
    }

    /// Closes the client's socket without DISCONNECT, as a network failure would.
    static func loseConnection(_ client: MQTT5Client) async throws {
        let driver = client.driver
        try await client.eventLoop.submit { driver.value.closeConnectionAbruptly() }.get()
    }

    @Test func theWillIsPublishedWhenTheConnectionIsLostWithoutDisconnect() async throws {
        try await withMosquitto { broker in
            let observer = makeClient(broker, id: "will-observer")
            var willProperties = MQTTProperties()
            willProperties.contentType = "text/plain"
            willProperties.willDelayInterval = 1
            willProperties.userProperties = [MQTTUserProperty(name: "reason", value: "lost")]
            let mortal = makeClient(broker, id: "mortal") {
                $0.will = MQTTWill(
                    topic: "wills/mortal", payload: ByteBuffer(string: "mortal is gone"), qos: .atLeastOnce,
                    properties: willProperties)
                // The session outlives the Will Delay, and the client does not come back in time to cancel it.
                $0.sessionExpiryInterval = 60
                $0.reconnectBackoff.initialDelay = .seconds(30)
                $0.reconnectBackoff.maximumDelay = .seconds(30)
            }
            try await whileRunning([observer, mortal]) {
                let wills = try await observer.subscribe(to: "wills/#", qos: .atLeastOnce)
                try await Self.loseConnection(mortal)
                let will = try await collect(1, from: wills)[0]
                #expect(will.topic == "wills/mortal")
                #expect(will.text == "mortal is gone")
                #expect(will.qos == .atLeastOnce)
                #expect(will.contentType == "text/plain")
                #expect(will.userProperties == [MQTTUserProperty(name: "reason", value: "lost")])
            }
        }
    }

    @Test func disconnectWithWillMessagePublishesTheWillAndNormalDisconnectDoesNot() async throws {
        try await withMosquitto { broker in
            let observer = makeClient(broker, id: "will-observer")
            let leaving = makeClient(broker, id: "leaving") {
                $0.will = MQTTWill(topic: "wills/leaving", payload: ByteBuffer(string: "left"), qos: .atLeastOnce)
            }
            let quiet = makeClient(broker, id: "quiet") {
                $0.will = MQTTWill(topic: "wills/quiet", payload: ByteBuffer(string: "never"), qos: .atLeastOnce)
            }
            try await whileRunning([observer, leaving, quiet]) {
                let wills = try await observer.subscribe(to: "wills/#", qos: .atLeastOnce)
                try await quiet.disconnect()
                try await leaving.disconnect(reason: .disconnectWithWillMessage)
                // Once mosquitto has handled both DISCONNECTs, any Will they caused is queued for the observer
                // ahead of a marker published afterwards.
                try await eventually("both DISCONNECTs handled") {
                    broker.log.contains("Received DISCONNECT from quiet")
                        && broker.log.contains("Received DISCONNECT from leaving")
                }
                try await observer.publish(
                    topic: "wills/marker", payload: ByteBuffer(string: "marker"), qos: .atLeastOnce)
                let received = try await collect(2, from: wills)
                #expect(received.map(\.topic) == ["wills/leaving", "wills/marker"])
                #expect(received.first?.text == "left")
            }
        }
    }

    @Test func aConnectionWithTheSameClientIdentifierTakesTheSessionOver() async throws {
        try await withMosquitto { broker in
            let first = makeClient(broker, id: "same-id")
            let second = makeClient(broker, id: "same-id")
            let firstEvents = first.connectionEvents()
            let outcome = try await withTimeout(.seconds(30), "the takeover") {
                try await withThrowingTaskGroup(of: MQTT5ClientError?.self) { group in
                    group.addTask {
                        do {
                            try await first.run()
                            return nil
                        } catch let error as MQTT5ClientError {
                            return error
                        }
                    }
                    _ = try await nextEvent(firstEvents, where: Self.isConnected)
                    group.addTask {
                        try await second.run()
                        return nil
                    }
                    // The first connection ends: how, depends on the broker.
                    guard case .disconnected(let ended) = try await nextEvent(firstEvents, where: Self.isDisconnected)
                    else { return (ended: nil as MQTT5ClientError?, runError: nil as MQTT5ClientError?) }
                    var runError: MQTT5ClientError?
                    if ended.reasonCode == .sessionTakenOver {
                        // Told so: the first client stops instead of taking the session back.
                        runError = try await group.next() ?? nil
                    } else {
                        try await first.disconnect()
                    }
                    try await second.disconnect()
                    try await first.disconnect()
                    try await group.waitForAll()
                    return (ended: ended as MQTT5ClientError?, runError: runError)
                }
            }
            #expect(broker.log.contains("Client same-id already connected, closing old connection"))
            if try !MosquittoEnvironment.version().lexicographicallyPrecedes([2, 0, 15]) {
                // mosquitto 2.0.15 and later say why, with DISCONNECT Session taken over.
                #expect(outcome.ended?.code == .serverDisconnected)
                #expect(outcome.ended?.reasonCode == .sessionTakenOver)
                #expect(outcome.runError?.reasonCode == .sessionTakenOver)
                #expect(outcome.runError?.isRetriable == false)
            } else {
                // Earlier versions close the old connection without DISCONNECT: the client cannot tell a takeover
                // from a network failure (BadServerTests covers the DISCONNECT path with a scripted server).
                #expect(outcome.ended?.code == .connectionFailed)
            }
        }
    }

    @Test func aMessageAboveTheBrokersMaximumPacketSizeIsRefusedWithATypedError() async throws {
        try await withMosquitto(["max_packet_size 1000"]) { broker in
            let client = makeClient(broker, id: "big")
            try await whileRunning([client]) {
                let info = try await client.waitUntilConnected()
                #expect(info.maximumPacketSize == 1000)
                let subscription = try await client.subscribe(to: "size/#", qos: .atLeastOnce)
                do throws(MQTT5ClientError) {
                    try await client.publish(
                        topic: "size/big", payload: ByteBuffer(repeating: 0x61, count: 2000), qos: .atLeastOnce)
                    Issue.record("a 2000-byte message was published")
                } catch {
                    #expect(error.code == .packetTooLarge)
                    #expect(!error.isRetriable)
                }
                // The connection is fine: a message that fits goes through.
                try await client.publish(
                    topic: "size/small", payload: ByteBuffer(repeating: 0x61, count: 900), qos: .atLeastOnce)
                #expect(try await collect(1, from: subscription).map(\.topic) == ["size/small"])
            }
        }
    }

    @Test func topicAliasesAreUsedUpToTheBrokersMaximumAndResetOnReconnect() async throws {
        try await withMosquitto(["max_topic_alias 3"]) { broker in
            let publisher = makeClient(broker, id: "aliasing")
            let subscriber = makeClient(broker, id: "alias-reader")
            try await whileRunning([publisher, subscriber]) {
                let info = try await publisher.waitUntilConnected()
                #expect(info.topicAliasMaximum == 3)
                let subscription = try await subscriber.subscribe(to: "alias/#", qos: .atLeastOnce)
                let topics = (0..<5).map { "alias/topic-\($0)" }
                for round in 0..<3 {
                    for topic in topics {
                        try await publisher.publish(
                            topic: topic, payload: ByteBuffer(string: "\(round)"), qos: .atLeastOnce)
                    }
                }
                let driver = publisher.driver
                #expect(try await publisher.eventLoop.submit { driver.value.outboundTopicAliasCount }.get() == 3)
                let messages = try await collect(15, from: subscription)
                // mosquitto resolved every alias to the right topic.
                #expect(messages.map(\.topic) == Array((0..<3).map { _ in topics }.joined()))
                #expect(messages.map(\.text) == (0..<3).flatMap { round in topics.map { _ in "\(round)" } })

                // Aliases belong to one connection: after a reconnect they start again.
                let events = publisher.connectionEvents()
                try await Self.loseConnection(publisher)
                _ = try await reconnection(events)
                #expect(try await publisher.eventLoop.submit { driver.value.outboundTopicAliasCount }.get() == 0)
                try await publisher.publish(topic: topics[4], payload: ByteBuffer(string: "after"), qos: .atLeastOnce)
                try await publisher.publish(topic: topics[4], payload: ByteBuffer(string: "again"), qos: .atLeastOnce)
                #expect(try await publisher.eventLoop.submit { driver.value.outboundTopicAliasCount }.get() == 1)
                let after = try await collect(2, from: subscription)
                #expect(after.map(\.topic) == [topics[4], topics[4]])
                #expect(after.map(\.text) == ["after", "again"])
            }
        }
    }

    @Test func theClientReconnectsAfterABrokerRestartAndSubscribesAgain() async throws {
        try await withMosquitto { broker in
            let subscriber = makeClient(broker, id: "restart-subscriber")
            let publisher = makeClient(broker, id: "restart-publisher")
            try await whileRunning([subscriber, publisher]) {
                let subscription = try await subscriber.subscribe(to: "restart/#", qos: .atLeastOnce)
                try await publisher.publish(
                    topic: "restart/before", payload: ByteBuffer(string: "1"), qos: .atLeastOnce)
                #expect(try await collect(1, from: subscription).map(\.topic) == ["restart/before"])

                let subscriberEvents = subscriber.connectionEvents()
                let publisherEvents = publisher.connectionEvents()
                // Without persistence the broker forgets every session and subscription.
                try await broker.restart()
                let info = try await reconnection(subscriberEvents)
                #expect(!info.sessionPresent)
                _ = try await reconnection(publisherEvents)

                // The client made its subscription again by itself; the same handle keeps receiving.
                let driver = subscriber.driver
                let id = subscription.identifier
                try await eventually("the subscription is made again") {
                    try await subscriber.eventLoop.submit { driver.value.isSubscriptionActive(id) }.get()
                }
                try await publisher.publish(topic: "restart/after", payload: ByteBuffer(string: "2"), qos: .atLeastOnce)
                #expect(try await collect(1, from: subscription).map(\.topic) == ["restart/after"])
            }
        }
    }
}
