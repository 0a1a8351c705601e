import Foundation
import MQTT5
import NIOCore
import SluiceCore

/// A subscription to an MQTT 5 topic through a shared subscription: one connection of its own, read by one
/// entrypoint.
///
/// Reading is what acknowledges: the client sends a QoS 1 message's PUBACK once this source has taken it from the
/// subscription's bounded buffer to hand it out, and the broker sends no more than the client's Receive Maximum
/// unacknowledged, so a slow client slows its own subscription only. A connection that stays down longer than its
/// link's outage limit ends the source with `MQTT5_UNAVAILABLE`. Closing ends the connection at once; a stream's
/// DISCONNECT ends its session too, so its place in the shared subscription goes at once to the other subscribers.
///
/// A subscription made with explicit acknowledgement (an at-least-once reader's) acknowledges nothing as it reads:
/// `delivered()` acknowledges what was returned so far, and what was not comes again from the broker with the
/// session.
final class MQTT5MessageSource: MessageSource {
    private struct State: Sendable {
        var closed = false
    }

    let link: MQTT5Link
    let subscription: MQTT5Subscription
    let endsSession: Bool
    /// Called by `close()`, at once.
    let onClose: @Sendable () -> Void
    /// Called once the connection has ended after `close()`.
    let onStopped: @Sendable () -> Void
    private let state = LockedBox(State())

    /// - Parameter link: a link with an outage limit, which stops its client when the limit passes.
    init(
        link: MQTT5Link, subscription: MQTT5Subscription, endsSession: Bool,
        onClose: @escaping @Sendable () -> Void = {}, onStopped: @escaping @Sendable () -> Void = {}
    ) {
        self.link = link
        self.subscription = subscription
        self.endsSession = endsSession
        self.onClose = onClose
        self.onStopped = onStopped
    }

    deinit {
        close()
    }

    func delivered() async {
        // Acknowledges what was read (with `.onRead`, already acknowledged: nothing left to do).
        subscription.acknowledgeRead()
    }

    private enum Read: Sendable {
        case message(MQTTMessage)
        case ended
        case timedOut
    }

    // MARK: Reading

    func next(maxCount: Int, until deadline: ContinuousClock.Instant?) async throws -> MessagePoll {
        if state.withLock({ $0.closed }) { return .ended }
        switch try await readOne(until: deadline) {
        case .timedOut:
            return .timedOut
        case .ended:
            if state.withLock({ $0.closed }) { return .ended }
            let status = link.current
            if let outage = status.outage { throw GatewayError.mqtt5Unavailable(outage) }
            if status.finished, let error = status.finalError { throw GatewayError.mqtt5(error) }
            return .ended
        case .message(let first):
            var messages = [Self.message(first)]
            var iterator = subscription.makeAsyncIterator()
            // What is already buffered comes without waiting.
            while messages.count < maxCount && subscription.bufferedMessageCount > 0 {
                guard let more = try? await iterator.next() else { break }
                messages.append(Self.message(more))
            }
            return .messages(messages)
        }
    }

    /// Waits for one message, the end of the subscription, or the deadline. A read that loses the race with the
    /// deadline leaves its message in the buffer for the next call.
    private func readOne(until deadline: ContinuousClock.Instant?) async throws -> Read {
        let subscription = self.subscription
        let outcome = try await withThrowingTaskGroup(of: Read.self) { group in
            group.addTask {
                var iterator = subscription.makeAsyncIterator()
                do throws(MQTT5ClientError) {
                    if let message = try await iterator.next() { return .message(message) }
                } catch {
                    throw GatewayError.mqtt5(error)
                }
                // A cancelled read ends its wait without a message.
                return Task.isCancelled ? .timedOut : .ended
            }
            if let deadline {
                group.addTask {
                    try? await Task.sleep(until: deadline)
                    return .timedOut
                }
            }
            var outcomes: [Read] = []
            if let first = try await group.next() { outcomes.append(first) }
            group.cancelAll()
            while let more = try await group.next() { outcomes.append(more) }
            for outcome in outcomes { if case .message = outcome { return outcome } }
            for outcome in outcomes { if case .ended = outcome { return outcome } }
            return Read.timedOut
        }
        if case .timedOut = outcome { try Task.checkCancellation() }
        return outcome
    }

    /// An MQTT message as a gateway message: User Properties as headers; topic, QoS, retain and the publication's
    /// properties as metadata.
    static func message(_ message: MQTTMessage) -> Message {
        var headers = MessageHeaders()
        for property in message.userProperties { headers.add(name: property.name, value: property.value) }
        var metadata = [
            "topic": message.topic, "qos": String(message.qos.rawValue), "retain": message.retain ? "true" : "false",
        ]
        if let contentType = message.contentType { metadata["contentType"] = contentType }
        if let responseTopic = message.responseTopic { metadata["responseTopic"] = responseTopic }
        if let correlationData = message.correlationData {
            metadata["correlationData"] = Data(correlationData.readableBytesView).base64EncodedString()
        }
        if let expiry = message.messageExpiryInterval { metadata["messageExpiryInterval"] = String(expiry) }
        return Message(
            content: message.payload, headers: headers, metadata: metadata,
            timestamp: Int64(Date().timeIntervalSince1970 * 1000))
    }

    func close() {
        let wasOpen = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        guard wasOpen else { return }
        onClose()
        let link = link
        let endsSession = endsSession
        let subscription = subscription
        let onStopped = onStopped
        // Unstructured: close() is called from synchronous code (and deinit); the connection ends in the
        // background, and a read waiting on it ends as soon as the client stops.
        Task {
            await link.stop(endSession: endsSession)
            onStopped()
            // Released only now: releasing a subscription unsubscribes it, and a poll's session keeps its
            // subscription for the client's next poll.
            withExtendedLifetime(subscription) {}
        }
    }
}
