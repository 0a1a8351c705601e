import Foundation
import Logging
import MQTT5
import SluiceCore
import Synchronization

/// One subscription that reads a deployment's topic filter for every stream whose client identifier the gateway
/// made up (see ``MQTT5TailSource``): a thousand SSE clients cost the broker one subscriber, not a thousand
/// connections each in a share group of its own.
///
/// A stream alone in its share group gets every message of the filter, which is what a plain subscription gets.
/// The tail subscribes at QoS 1 (the most the endpoint hands out) with a connection of its own and puts what it
/// reads in a ``SharedTail``; QoS 1 messages are acknowledged as they go into the tail. It stops when its
/// connection gives up (after the endpoint's outage limit: readers get `MQTT5_UNAVAILABLE`, the next stream starts
/// a new tail) or when it has had no reader for the tail's linger.
final class MQTT5Tail: Sendable {
    static let batch = 1_000

    let topic: String
    let shared: SharedTail
    private let link: MQTT5Link
    private let subscription: MQTT5Subscription

    private init(topic: String, link: MQTT5Link, subscription: MQTT5Subscription) {
        self.topic = topic
        self.link = link
        self.subscription = subscription
        self.shared = SharedTail(name: topic)
    }

    static func start(
        topic: String, configuration: MQTT5EndpointConfiguration, logger: Logger,
        onStop: @escaping @Sendable () -> Void
    ) async throws -> MQTT5Tail {
        let (link, subscription) = try await MQTT5Endpoint.connectSubscription(
            configuration: configuration, clientIdentifier: "sluice-t-\(UUID().uuidString.prefix(13).lowercased())",
            persistent: false, filter: topic, maximumQoS: .atLeastOnce, logger: logger)
        let tail = MQTT5Tail(topic: topic, link: link, subscription: subscription)
        tail.shared.whenStopped {
            // Unstructured: stopping runs from synchronous code; the connection ends in the background.
            Task { await link.stop(endSession: true) }
            onStop()
        }
        tail.run()
        return tail
    }

    private func run() {
        // Unstructured: the tail serves streams of many requests and outlives each.
        Task {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    let failure = await self.pump()
                    self.shared.stop(failure)
                }
                group.addTask {
                    // Readers wait with deadlines, which the ring ends when told the time: tell it while idle.
                    while !self.shared.isStopped,
                        (try? await Task.sleep(for: self.shared.settings.healthCheckInterval)) != nil
                    {
                        self.shared.noteIdle()
                    }
                }
            }
        }
    }

    /// Moves messages from the subscription into the ring until the subscription ends; returns why (nil: the
    /// tail was stopped).
    private func pump() async -> GatewayError? {
        var iterator = subscription.makeAsyncIterator()
        do throws(MQTT5ClientError) {
            while let first = try await iterator.next() {
                var messages = [MQTT5MessageSource.message(first)]
                while messages.count < Self.batch, subscription.bufferedMessageCount > 0,
                    let more = try await iterator.next()
                {
                    messages.append(MQTT5MessageSource.message(more))
                }
                shared.append(messages)
            }
        } catch {
            return shared.isStopped ? nil : .mqtt5(error)
        }
        if shared.isStopped { return nil }
        let status = link.current
        if let outage = status.outage { return .mqtt5Unavailable(outage) }
        if let error = status.finalError { return .mqtt5(error) }
        return .mqtt5Unavailable(MQTT5ClientError(.serverDisconnected, "the subscription ended"))
    }
}

/// A stream served from an ``MQTT5Tail``: a stream (SSE, WebSocket) whose client identifier the gateway made up,
/// so its share group would have it alone and it would get every message of the filter, as it does here.
///
/// It reads the tail's ring from where it attached. A reader so slow that the ring (10,000 messages) drops what it
/// has not read continues from the oldest message kept, as a slow QoS 0 subscriber loses what the broker drops
/// for it; the count is logged.
final class MQTT5TailSource: MessageSource {
    private struct State {
        var offset: Int64
        var closed = false
    }

    private let tail: MQTT5Tail
    private let waitID: UInt64
    private let logger: Logger
    private let state: Mutex<State>

    init?(tail: MQTT5Tail, logger: Logger) {
        guard let (offset, _) = tail.shared.attach({ () }) else { return nil }
        self.tail = tail
        self.logger = logger
        self.waitID = tail.shared.ring.makeWaitID()
        self.state = Mutex(State(offset: offset))
    }

    deinit {
        close()
    }

    func next(maxCount: Int, until deadline: ContinuousClock.Instant?) async throws -> MessagePoll {
        while true {
            let (closed, offset) = state.withLock { ($0.closed, $0.offset) }
            if closed { return .ended }
            switch try await tail.shared.read(from: offset, maxCount: maxCount, until: deadline, waitID: waitID) {
            case .messages(let messages, let next):
                state.withLock { $0.offset = next }
                return .messages(messages)
            case .behind(let first):
                logger.debug(
                    "A slow stream skipped messages the shared subscription no longer keeps",
                    metadata: ["topic": "\(tail.topic)", "skipped": "\(first - offset)"])
                state.withLock { $0.offset = first }
            case .timedOut:
                return .timedOut
            case .stopped(let failure):
                if state.withLock({ $0.closed }) { return .ended }
                throw failure ?? GatewayError.mqtt5Unavailable(MQTT5ClientError(.shutDown, "the API is stopping"))
            }
        }
    }

    func close() {
        let wasOpen = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        guard wasOpen else { return }
        tail.shared.ring.interruptWait(id: waitID)
        tail.shared.detach()
    }
}

extension MQTT5TailSource: RingBackedSource {
    var ring: InMemoryTopic { tail.shared.ring }

    func ringPosition() -> RingPosition {
        let bounds = ring.bounds
        let (closed, offset) = state.withLock { state -> (Bool, Int64) in
            if !state.closed, state.offset < bounds.first {
                logger.debug(
                    "A slow stream skipped messages the shared subscription no longer keeps",
                    metadata: ["topic": "\(tail.topic)", "skipped": "\(bounds.first - state.offset)"])
                state.offset = bounds.first
            }
            return (state.closed, state.offset)
        }
        if closed { return .ended(nil) }
        if offset >= bounds.end {
            let (stopped, failure) = tail.shared.stopState
            if stopped {
                return .ended(
                    failure ?? GatewayError.mqtt5Unavailable(MQTT5ClientError(.shutDown, "the API is stopping")))
            }
        }
        return .at(offset)
    }

    func handedOut(upTo next: Int64, lastID: String?) {
        state.withLock { $0.offset = next }
    }
}
