import Foundation
import MQTT5
import MQTT5TestSupport
import NIOCore
import Testing

/// Shared subscriptions, retained messages and subscription options against mosquitto 2.0.
@Suite(.enabled(if: MosquittoEnvironment.shouldRun, Comment(rawValue: MosquittoEnvironment.skipReason)))
struct SubscriptionBrokerTests {
    @Test func aSharedSubscriptionSplitsMessagesBetweenItsMembers() async throws {
        try await withMosquitto { broker in
            let first = makeClient(broker, id: "share-1")
            let second = makeClient(broker, id: "share-2")
            let publisher = makeClient(broker, id: "share-publisher")
            try await whileRunning([first, second, publisher]) {
                let one = try await first.subscribe(to: "$share/workers/jobs/#", qos: .atLeastOnce)
                let two = try await second.subscribe(to: "$share/workers/jobs/#", qos: .atLeastOnce)
                let count = 40
                for index in 0..<count {
                    try await publisher.publish(
                        topic: "jobs/\(index % 4)", payload: ByteBuffer(string: "\(index)"), qos: .atLeastOnce)
                }
                // Every job is in one of the two buffers (each member's share is below its Receive Maximum).
                try await eventually("all jobs delivered") {
                    one.bufferedMessageCount + two.bufferedMessageCount == count
                }
                let firstShare = try await collect(one.bufferedMessageCount, from: one).map(\.text)
                let secondShare = try await collect(two.bufferedMessageCount, from: two).map(\.text)
                let all = firstShare + secondShare
                #expect(Set(all).count == all.count, "no job went to both members")
                #expect(Set(all) == Set((0..<count).map(String.init)), "every job arrived")
                #expect(!firstShare.isEmpty && !secondShare.isEmpty, "both members got jobs")
            }
        }
    }

    @Test func retainedMessagesFollowRetainHandling() async throws {
        try await withMosquitto { broker in
            let publisher = makeClient(broker, id: "retain-publisher")
            let subscriber = makeClient(broker, id: "retain-subscriber")
            try await whileRunning([publisher, subscriber]) {
                try await publisher.publish(
                    topic: "status/a", payload: ByteBuffer(string: "a is up"), qos: .atLeastOnce, retain: true)
                try await publisher.publish(
                    topic: "status/b", payload: ByteBuffer(string: "b is up"), qos: .atLeastOnce, retain: true)

                // Send on subscribe: both retained messages, flagged retained.
                let all = try await subscriber.subscribe(to: [
                    MQTTSubscription(topicFilter: "status/+", options: .init(maximumQoS: .atLeastOnce))
                ])
                let retained = try await collect(2, from: all)
                #expect(Set(retained.map(\.topic)) == ["status/a", "status/b"])
                #expect(retained.allSatisfy { $0.retain })

                // Do not send: nothing retained; a live message arrives, without the RETAIN flag...
                let live = try await subscriber.subscribe(to: [
                    MQTTSubscription(
                        topicFilter: "status/#", options: .init(maximumQoS: .atLeastOnce, retainHandling: .doNotSend))
                ])
                // ...and only once it is published: the first message on this subscription is the live one.
                try await publisher.publish(topic: "status/c", payload: ByteBuffer(string: "c"), qos: .atLeastOnce)
                let first = try await collect(1, from: live)[0]
                #expect(first.topic == "status/c")
                #expect(!first.retain)
                // A published-retained message reaches an existing subscription without RETAIN, unless Retain As
                // Published.
                let asPublished = try await subscriber.subscribe(to: [
                    MQTTSubscription(
                        topicFilter: "flags/#",
                        options: .init(maximumQoS: .atLeastOnce, retainAsPublished: true, retainHandling: .doNotSend))
                ])
                let plain = try await subscriber.subscribe(to: [
                    MQTTSubscription(
                        topicFilter: "flags/+", options: .init(maximumQoS: .atLeastOnce, retainHandling: .doNotSend))
                ])
                try await publisher.publish(
                    topic: "flags/x", payload: ByteBuffer(string: "x"), qos: .atLeastOnce, retain: true)
                #expect(try await collect(1, from: asPublished)[0].retain)
                #expect(try await !collect(1, from: plain)[0].retain)

                // Send if new: retained messages for a new subscription, none when it already exists.
                let ifNew = try await subscriber.subscribe(to: [
                    MQTTSubscription(
                        topicFilter: "status/a",
                        options: .init(maximumQoS: .atLeastOnce, retainHandling: .sendOnSubscribeIfNew))
                ])
                #expect(try await collect(1, from: ifNew).map(\.text) == ["a is up"])
                let again = try await subscriber.subscribe(to: [
                    MQTTSubscription(
                        topicFilter: "status/a",
                        options: .init(maximumQoS: .atLeastOnce, retainHandling: .sendOnSubscribeIfNew))
                ])
                try await publisher.publish(
                    topic: "status/a", payload: ByteBuffer(string: "a again"), qos: .atLeastOnce)
                #expect(try await collect(1, from: again).map(\.text) == ["a again"])
                // Both must still exist here (a dropped handle unsubscribes).
                withExtendedLifetime((all, ifNew)) {}

                // An empty retained message clears it.
                try await publisher.publish(topic: "status/b", payload: ByteBuffer(), qos: .atLeastOnce, retain: true)
                let afterClear = try await subscriber.subscribe(to: "status/b", qos: .atLeastOnce)
                try await publisher.publish(topic: "status/b", payload: ByteBuffer(string: "b live"), qos: .atLeastOnce)
                #expect(try await collect(1, from: afterClear).map(\.text) == ["b live"])
            }
        }
    }

    @Test func noLocalKeepsAClientsOwnMessagesFromIt() async throws {
        try await withMosquitto { broker in
            let client = makeClient(broker, id: "no-local")
            let other = makeClient(broker, id: "no-local-other")
            try await whileRunning([client, other]) {
                let subscription = try await client.subscribe(to: [
                    MQTTSubscription(topicFilter: "chat", options: .init(maximumQoS: .atLeastOnce, noLocal: true))
                ])
                try await client.publish(topic: "chat", payload: ByteBuffer(string: "mine"), qos: .atLeastOnce)
                try await other.publish(topic: "chat", payload: ByteBuffer(string: "theirs"), qos: .atLeastOnce)
                #expect(try await collect(1, from: subscription).map(\.text) == ["theirs"])
            }
        }
    }

    @Test func overlappingSubscriptionsEachGetTheMessage() async throws {
        try await withMosquitto { broker in
            let client = makeClient(broker, id: "overlap")
            try await whileRunning([client]) {
                let wide = try await client.subscribe(to: "sensors/#", qos: .atLeastOnce)
                let narrow = try await client.subscribe(to: "sensors/+/temperature", qos: .exactlyOnce)
                let other = try await client.subscribe(to: "actuators/#", qos: .atLeastOnce)
                try await client.publish(
                    topic: "sensors/kitchen/temperature", payload: ByteBuffer(string: "21"), qos: .exactlyOnce)
                try await client.publish(
                    topic: "actuators/valve", payload: ByteBuffer(string: "open"), qos: .atLeastOnce)
                #expect(try await collect(1, from: wide).map(\.topic) == ["sensors/kitchen/temperature"])
                let narrowMessage = try await collect(1, from: narrow)[0]
                #expect(narrowMessage.topic == "sensors/kitchen/temperature")
                #expect(narrowMessage.qos == .exactlyOnce)
                // The valve message went to its own subscription only.
                #expect(try await collect(1, from: other).map(\.topic) == ["actuators/valve"])
                #expect(wide.bufferedMessageCount == 0 && narrow.bufferedMessageCount == 0)
                // After unsubscribing one, the other still receives.
                #expect(try await narrow.unsubscribe() == [.success])
                try await client.publish(
                    topic: "sensors/hall/temperature", payload: ByteBuffer(string: "19"), qos: .atLeastOnce)
                #expect(try await collect(1, from: wide).map(\.text) == ["19"])
            }
        }
    }
}
