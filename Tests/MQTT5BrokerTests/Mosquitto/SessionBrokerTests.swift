import Foundation
import MQTT5TestSupport
import NIOCore
import Testing

@testable import MQTT5

/// Flow control and persistent sessions against mosquitto 2.0: a slow consumer holds the broker back through
/// withheld acknowledgements, and a session survives a broker restart without losing or (for QoS 2) repeating a
/// message.
@Suite(.enabled(if: MosquittoEnvironment.shouldRun, Comment(rawValue: MosquittoEnvironment.skipReason)))
struct SessionBrokerTests {
    static func isConnected(_ event: MQTT5ConnectionEvent) -> Bool {
        if case .connected = event { return true }
        return false
    }

    static func isDisconnected(_ event: MQTT5ConnectionEvent) -> Bool {
        if case .disconnected = event { return true }
        return false
    }

    @Test func aSlowSubscriberHoldsTheBrokerAtItsReceiveMaximum() async throws {
        try await withMosquitto { broker in
            let receiveMaximum = 5
            let slow = makeClient(broker, id: "slow") { $0.receiveMaximum = UInt16(receiveMaximum) }
            let publisher = makeClient(broker, id: "fast-publisher")
            try await whileRunning([slow, publisher]) {
                let subscription = try await slow.subscribe(to: "bp/#", qos: .atLeastOnce)
                // The publisher reads its own messages too: once it has all of them, mosquitto has handed each to
                // every subscriber it was going to hand it to.
                let ownCopies = try await publisher.subscribe(to: "bp/#", qos: .atLeastOnce)
                let count = 50
                for index in 0..<count {
                    try await publisher.publish(
                        topic: "bp/\(index)", payload: ByteBuffer(string: "\(index)"), qos: .atLeastOnce)
                }
                _ = try await collect(count, from: ownCopies)
                // Nothing read, nothing acknowledged: the broker stopped at the slow client's Receive Maximum.
                try await eventually("the window filled") { subscription.bufferedMessageCount == receiveMaximum }
                #expect(subscription.bufferedMessageCount == receiveMaximum)
                #expect(broker.log.contains("Sending PUBLISH to slow (d0, q1, r0, m\(receiveMaximum),"))
                #expect(!broker.log.contains("Sending PUBLISH to slow (d0, q1, r0, m\(receiveMaximum + 1),"))

                // Reading releases the acknowledgements, and the rest arrive, in order, each once.
                let messages = try await collect(count, from: subscription, timeout: .seconds(60))
                #expect(messages.map(\.text) == (0..<count).map(String.init))
                // The slow client kept its connection throughout (no Receive Maximum exceeded, no keep-alive).
                let driver = slow.driver
                #expect(try await slow.eventLoop.submit { driver.value.connectionInfo != nil }.get())
            }
        }
    }

    @Test func qos0MessagesBeyondTheBufferAreDroppedAndCounted() async throws {
        try await withMosquitto { broker in
            let slow = makeClient(broker, id: "slow-qos0") { $0.subscriptionBufferSize = 10 }
            let publisher = makeClient(broker, id: "qos0-publisher")
            try await whileRunning([slow, publisher]) {
                let subscription = try await slow.subscribe(to: "flood/#", qos: .atMostOnce)
                let count = 200
                for index in 0..<count {
                    try await publisher.publish(topic: "flood/x", payload: ByteBuffer(string: "\(index)"))
                }
                try await eventually("every message arrived or was dropped") {
                    subscription.bufferedMessageCount + subscription.droppedMessageCount == count
                }
                // Memory stays bounded: the buffer holds 10, the rest are counted as dropped.
                #expect(subscription.bufferedMessageCount == 10)
                #expect(subscription.droppedMessageCount == count - 10)
                // The oldest are kept; reading them frees room for new messages.
                #expect(try await collect(10, from: subscription).map(\.text) == (0..<10).map(String.init))
                try await publisher.publish(topic: "flood/x", payload: ByteBuffer(string: "later"))
                #expect(try await collect(1, from: subscription).map(\.text) == ["later"])
            }
        }
    }

    @Test func aPersistentSessionSurvivesABrokerRestartWithoutLossOrQoS2Duplicates() async throws {
        let persistence = [
            "persistence true", "persistence_location {dir}/", "autosave_interval 1", "autosave_on_changes true",
        ]
        try await withMosquitto(persistence) { broker in
            // mosquitto 2.0.11 writes a session to its database only for a connection made with Clean Start 0,
            // whatever its Session Expiry Interval: so the first connection does not start clean.
            let subscriber = makeClient(broker, id: "durable-subscriber") {
                $0.sessionExpiryInterval = 600
                $0.cleanStart = false
                $0.receiveMaximum = 5
            }
            let publisher = makeClient(broker, id: "durable-publisher") {
                $0.sessionExpiryInterval = 600
                $0.cleanStart = false
            }
            try await whileRunning([subscriber, publisher]) {
                let exactlyOnce = try await subscriber.subscribe(to: "durable/q2/#", qos: .exactlyOnce)
                let atLeastOnce = try await subscriber.subscribe(to: "durable/q1/#", qos: .atLeastOnce)

                // Before the restart: the subscriber reads nothing, so some messages are in flight to it
                // (unacknowledged, up to its Receive Maximum) and the rest wait in its session on the broker.
                for index in 0..<20 {
                    try await publisher.publish(
                        topic: "durable/q2/\(index)", payload: ByteBuffer(string: "q2-\(index)"), qos: .exactlyOnce)
                    try await publisher.publish(
                        topic: "durable/q1/\(index)", payload: ByteBuffer(string: "q1-\(index)"), qos: .atLeastOnce)
                }
                try await eventually("the window filled") {
                    exactlyOnce.bufferedMessageCount + atLeastOnce.bufferedMessageCount == 5
                }

                let subscriberEvents = subscriber.connectionEvents()
                let publisherEvents = publisher.connectionEvents()
                await broker.stopProcess(graceful: true)
                _ = try await nextEvent(subscriberEvents, where: Self.isDisconnected)
                _ = try await nextEvent(publisherEvents, where: Self.isDisconnected)

                // While the broker is down: more messages, which wait in the publisher until it is back.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for index in 20..<30 {
                            try await publisher.publish(
                                topic: "durable/q2/\(index)", payload: ByteBuffer(string: "q2-\(index)"),
                                qos: .exactlyOnce)
                            try await publisher.publish(
                                topic: "durable/q1/\(index)", payload: ByteBuffer(string: "q1-\(index)"),
                                qos: .atLeastOnce)
                        }
                    }
                    try await broker.startAgain()
                    try await group.waitForAll()
                }
                guard case .connected(let info) = try await nextEvent(subscriberEvents, where: Self.isConnected) else {
                    return
                }
                #expect(info.sessionPresent, "mosquitto restored the session from its database")

                // A marker published last closes each stream: whatever arrives before it is all there is.
                try await publisher.publish(
                    topic: "durable/q2/end", payload: ByteBuffer(string: "end"), qos: .exactlyOnce)
                try await publisher.publish(
                    topic: "durable/q1/end", payload: ByteBuffer(string: "end"), qos: .atLeastOnce)
                // Both are read at once: acknowledgements go in arrival order, so an unread subscription would
                // hold back the other's.
                async let readTwos = readUntilEnd(exactlyOnce)
                async let readOnes = readUntilEnd(atLeastOnce)
                let (twos, ones) = try await (readTwos, readOnes)
                // mosquitto sent the messages that were in flight again, with DUP; the client did not deliver
                // them twice.
                #expect(broker.log.contains("Sending PUBLISH to durable-subscriber (d1, q2"))
                #expect(twos.count == 30, "QoS 2: exactly once, \(twos.count) received")
                #expect(Set(twos) == Set((0..<30).map { "q2-\($0)" }))
                #expect(Set(ones) == Set((0..<30).map { "q1-\($0)" }), "QoS 1: at least once")
            }
        }
    }
}

/// The payloads of `subscription` up to the one that reads "end".
private func readUntilEnd(_ subscription: MQTT5Subscription) async throws -> [String] {
    try await withTimeout(.seconds(60), "the end marker") {
        var payloads: [String] = []
        for try await message in subscription {
            if message.text == "end" { return payloads }
            payloads.append(message.text)
        }
        throw TestTimeout(description: "the subscription ended before its end marker")
    }
}
