import NIOCore
import NIOHTTP1
import Synchronization

/// Hands the parts of a message from the task that reads them to the task that writes them on, one part at a time:
/// the reader waits until the writer has taken the part it holds, so what is in between is bounded to one part.
/// ``depart(with:)`` wakes the writer at once with a last event, whatever the reader is doing.
final class ProxyPipe<Event: Sendable>: Sendable {
    private struct State {
        var pending: Event?
        var consumer: CheckedContinuation<Event, Never>?
        var producer: CheckedContinuation<Void, Never>?
        var departed: Event?
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
                if let departed = state.departed { return (departed, nil) }
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

    /// The writer is woken with `event` now, and gets it from every later ``next()``.
    func depart(with event: Event) {
        let consumer = state.withLock { state -> CheckedContinuation<Event, Never>? in
            state.departed = event
            defer { state.consumer = nil }
            return state.consumer
        }
        consumer?.resume(returning: event)
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

/// A backend's response, part by part, on its way to the client.
enum ProxyResponseEvent: Sendable {
    case head(HTTPResponseStatus, HTTPHeaders)
    case chunk(ByteBuffer)
    case end
    case failed(any Error)
    /// The client went away.
    case departed
}

/// A client's request body, part by part, on its way to the backend.
enum ProxyRequestBodyEvent: Sendable {
    case chunk(ByteBuffer)
    case end
    case failed(any Error)
}

/// The request body as the backend client reads it: parts relayed through a pipe from a task of the exchange's
/// own, so that the exchange can stop that task and wait for it before it ends. The connection reads its next
/// request from the same source once the exchange has ended; two readers at once would be fatal.
struct RelayedRequestBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let pipe: ProxyPipe<ProxyRequestBodyEvent>

    struct AsyncIterator: AsyncIteratorProtocol {
        let pipe: ProxyPipe<ProxyRequestBodyEvent>
        var ended = false

        mutating func next() async throws -> ByteBuffer? {
            guard !ended else { return nil }
            switch await pipe.next() {
            case .chunk(let chunk): return chunk
            case .end:
                ended = true
                return nil
            case .failed(let error):
                ended = true
                throw error
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pipe: pipe) }
}
