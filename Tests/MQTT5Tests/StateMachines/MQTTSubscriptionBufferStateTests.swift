import NIOCore
import Testing

@testable import MQTT5

/// A subscription's buffer as a pure value: what is kept, dropped, handed over and discarded.
@Suite struct MQTTSubscriptionBufferStateTests {
    typealias State = MQTTSubscriptionBufferState<String>

    static func entry(_ text: String, delivery: UInt64? = nil) -> State.Entry {
        State.Entry(message: MQTTMessage(topic: "t", payload: buffer(text)), delivery: delivery)
    }

    static func text(_ outcome: State.NextOutcome) -> String? {
        if case .message(let entry) = outcome { return String(buffer: entry.message.payload) }
        return nil
    }

    @Test func qos0BeyondTheCapacityIsDroppedAndCounted() {
        var state = State(capacity: 2, hardLimit: 5)
        for text in ["a", "b", "c", "d"] { _ = state.push(Self.entry(text)) }
        #expect(state.entries.count == 2)
        #expect(state.droppedCount == 2)
        #expect(Self.text(state.next()) == "a")
        #expect(Self.text(state.next()) == "b")
        guard case .wait = state.next() else {
            Issue.record("expected to wait")
            return
        }
    }

    @Test func qos1And2AreKeptBeyondTheCapacityUpToTheHardLimit() {
        var state = State(capacity: 1, hardLimit: 3)
        // Messages of a session the server lost (deliveries 1...3), then the new session starts at delivery 10.
        guard case .buffered = state.push(Self.entry("a", delivery: 1)),
            case .buffered = state.push(Self.entry("b", delivery: 2)),
            case .buffered = state.push(Self.entry("c", delivery: 3))
        else {
            Issue.record("expected three buffered")
            return
        }
        // Past the hard limit while the lost session's messages wait: dropped, its delivery counted as taken.
        guard case .dropped(let delivery) = state.push(Self.entry("d", delivery: 10), sessionStart: 10) else {
            Issue.record("expected a drop")
            return
        }
        #expect(delivery == 10)
        #expect(state.droppedCount == 1)
        // A QoS 0 message finds the buffer full.
        guard case .dropped(nil) = state.push(Self.entry("e"), sessionStart: 10) else {
            Issue.record("expected a drop")
            return
        }
    }

    @Test func qos1And2OfTheCurrentSessionAreNeverDropped() {
        // A server that sends more than the Receive Maximum (mosquitto 2.0.11) must not make the client acknowledge
        // messages its consumer never saw: the client stops reading instead.
        var state = State(capacity: 1, hardLimit: 3)
        for delivery in UInt64(5)..<25 {
            guard case .buffered = state.push(Self.entry("m\(delivery)", delivery: delivery), sessionStart: 5) else {
                Issue.record("message \(delivery) was not buffered")
                return
            }
        }
        #expect(state.droppedCount == 0)
        #expect(state.entries.count == 20)
    }

    @Test func aWaitingConsumerGetsTheMessageDirectly() {
        var state = State(capacity: 1, hardLimit: 1)
        guard case .wait = state.next() else {
            Issue.record("expected to wait")
            return
        }
        state.park("reader", id: 7)
        guard case .handedOver(let waiter, let entry) = state.push(Self.entry("x", delivery: 9)) else {
            Issue.record("expected a hand-over")
            return
        }
        #expect(waiter == "reader")
        #expect(entry.delivery == 9)
        #expect(state.entries.isEmpty)
        #expect(state.unpark(id: 7) == nil)
    }

    @Test func aDeferredHandOverGivesTheWaitingReaderTheOldestMessage() {
        var state = State(capacity: 10, hardLimit: 12)
        state.park("reader", id: 1)
        // Buffered although a reader waits: it is woken once the batch is in.
        guard case .buffered = state.pushDeferringHandOver(Self.entry("a")),
            case .buffered = state.pushDeferringHandOver(Self.entry("b", delivery: 2))
        else {
            Issue.record("expected both buffered")
            return
        }
        guard let (waiter, entry) = state.handOver() else {
            Issue.record("expected a hand-over")
            return
        }
        #expect(waiter == "reader")
        #expect(String(buffer: entry.message.payload) == "a")
        #expect(state.handOver() == nil)
        #expect(Self.text(state.next()) == "b")
    }

    @Test func aDeferredPushKeepsTheBounds() {
        var state = State(capacity: 1, hardLimit: 2)
        _ = state.pushDeferringHandOver(Self.entry("a"))
        guard case .dropped(nil) = state.pushDeferringHandOver(Self.entry("b")) else {
            Issue.record("expected QoS 0 dropped at the capacity")
            return
        }
        // Delivery 3 is of a lost session (the current one starts at 4).
        guard case .buffered = state.pushDeferringHandOver(Self.entry("c", delivery: 3), sessionStart: 4),
            case .dropped(4) = state.pushDeferringHandOver(Self.entry("d", delivery: 4), sessionStart: 4)
        else {
            Issue.record("expected QoS 1 kept up to the hard limit, then dropped while a lost session's message waits")
            return
        }
        #expect(state.droppedCount == 2)
        // Once the lost session's message is read, the current session's messages are kept past the hard limit.
        _ = state.next()
        _ = state.next()
        for delivery in UInt64(5)..<9 {
            guard case .buffered = state.pushDeferringHandOver(Self.entry("n", delivery: delivery), sessionStart: 4)
            else {
                Issue.record("message \(delivery) of the current session was dropped")
                return
            }
        }
        #expect(state.droppedCount == 2)
    }

    @Test func finishingKeepsMessagesForReadersUnlessTheyAreDiscarded() {
        var kept = State(capacity: 5, hardLimit: 5)
        _ = kept.push(Self.entry("a", delivery: 1))
        #expect(kept.finish(.finished, dropMessages: false).discarded == [])
        #expect(Self.text(kept.next()) == "a")
        guard case .ended(.finished) = kept.next() else {
            Issue.record("expected the end")
            return
        }
        // Nothing is accepted after the end; a delivery pushed then counts as taken.
        guard case .dropped(2) = kept.push(Self.entry("b", delivery: 2)) else {
            Issue.record("expected a drop")
            return
        }

        var discarded = State(capacity: 5, hardLimit: 5)
        _ = discarded.push(Self.entry("a", delivery: 1))
        _ = discarded.push(Self.entry("b"))
        _ = discarded.push(Self.entry("c", delivery: 3))
        discarded.park("reader", id: 1)
        let (waiters, deliveries) = discarded.finish(.failed(MQTT5ClientError(.shutDown, "x")), dropMessages: true)
        #expect(waiters == ["reader"])
        #expect(deliveries == [1, 3])
        guard case .ended(.failed(let error)) = discarded.next() else {
            Issue.record("expected the failure")
            return
        }
        #expect(error.code == .shutDown)
    }

    @Test func explicitAcknowledgementHoldsWhatWasReadUntilAcknowledged() {
        var state = State(capacity: 4, hardLimit: 8, acknowledgesOnRead: false)
        for (index, text) in ["a", "b", "c"].enumerated() {
            _ = state.push(Self.entry(text, delivery: UInt64(index + 1)))
        }
        _ = state.push(Self.entry("qos0"))
        for _ in 0..<2 {
            guard case .message(let entry) = state.next() else {
                Issue.record("expected a message")
                return
            }
            #expect(state.read(entry.delivery) == nil, "held until acknowledged")
        }
        #expect(state.acknowledgeRead() == [1, 2])
        #expect(state.acknowledgeRead() == [], "acknowledged once")
        guard case .message(let third) = state.next() else {
            Issue.record("expected a message")
            return
        }
        #expect(state.read(third.delivery) == nil)
        // A QoS 0 message has nothing to acknowledge.
        guard case .message(let qos0) = state.next() else {
            Issue.record("expected a message")
            return
        }
        #expect(state.read(qos0.delivery) == nil)
        #expect(state.unacknowledged == [3])
        // An unsubscribe releases what was read and not acknowledged: nobody is left to acknowledge it.
        #expect(state.finish(.finished, dropMessages: true).discarded == [3])
    }

    @Test func onReadReleasesEachDeliveryAsItIsRead() {
        var state = State(capacity: 4, hardLimit: 8)
        _ = state.push(Self.entry("a", delivery: 7))
        guard case .message(let entry) = state.next() else {
            Issue.record("expected a message")
            return
        }
        #expect(state.read(entry.delivery) == 7)
        #expect(state.acknowledgeRead() == [])
    }
}
