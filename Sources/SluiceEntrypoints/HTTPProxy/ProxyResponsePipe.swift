import NIOCore
import NIOHTTP1
import Synchronization

/// Hands a backend's response, part by part, from the task that reads it to the task that writes it to the client,
/// one part at a time: the reader waits until the writer has taken the part it holds, so what is in between is
/// bounded to one part. The client leaving (``depart()``) wakes the writer at once, whatever the reader is doing.
final class ProxyResponsePipe: Sendable {
    enum Event: Sendable {
        case head(HTTPResponseStatus, HTTPHeaders)
        case chunk(ByteBuffer)
        case end
        case failed(any Error)
        /// The client went away.
        case departed
    }

    private struct State {
        var pending: Event?
        var consumer: CheckedContinuation<Event, Never>?
        var producer: CheckedContinuation<Void, Never>?
        var departed = false
        var closed = false
    }

    private let state = Mutex(State())

    /// Reader side: gives `event` to the writer and waits until it took it (or the pipe was closed).
    func send(_ event: Event) async {
        await withCheckedContinuation { (producer: CheckedContinuation<Void, Never>) in
            let consumer = state.withLock { state -> CheckedContinuation<Event, Never>?? in
                if state.closed { return .some(nil) }
                if let consumer = state.consumer {
                    state.consumer = nil
                    return .some(consumer)
                }
                state.pending = event
                state.producer = producer
                return .none
            }
            switch consumer {
            case .none: break
            case .some(let consumer):
                consumer?.resume(returning: event)
                producer.resume()
            }
        }
    }

    /// Writer side: the next event.
    func next() async -> Event {
        await withCheckedContinuation { (consumer: CheckedContinuation<Event, Never>) in
            let ready = state.withLock { state -> (Event, CheckedContinuation<Void, Never>?)? in
                if state.departed { return (.departed, nil) }
                if let event = state.pending {
                    state.pending = nil
                    defer { state.producer = nil }
                    return (event, state.producer)
                }
                state.consumer = consumer
                return nil
            }
            if let (event, producer) = ready {
                producer?.resume()
                consumer.resume(returning: event)
            }
        }
    }

    /// The client went away: the writer is woken with `.departed`.
    func depart() {
        let consumer = state.withLock { state -> CheckedContinuation<Event, Never>? in
            state.departed = true
            defer { state.consumer = nil }
            return state.consumer
        }
        consumer?.resume(returning: .departed)
    }

    /// Writer side: nothing more is taken; a reader waiting (or about to) is let go.
    func close() {
        let producer = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.closed = true
            state.pending = nil
            defer { state.producer = nil }
            return state.producer
        }
        producer?.resume()
    }
}
