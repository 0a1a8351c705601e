import Foundation
import Synchronization
import Testing

@testable import SluiceStore

@Suite("operation deadlines", .timeLimit(.minutes(1)))
struct DeadlineTests {
    struct TimedOut: Error {}

    /// An operation that ignores cancellation and ends only when told to (a wait on a connection pool that never
    /// hands one out).
    final class Stubborn: Sendable {
        let waiter = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let ended = Atomic<Bool>(false)

        func run() async -> Int {
            await withCheckedContinuation { continuation in waiter.withLock { $0 = continuation } }
            ended.store(true, ordering: .sequentiallyConsistent)
            return 1
        }

        func release() {
            while true {
                if let continuation = waiter.withLock({ $0.take() }) {
                    continuation.resume()
                    return
                }
                usleep(1000)
            }
        }
    }

    @Test("past the deadline the caller gets the timeout error while an operation that ignores cancellation still runs")
    func callerNotHeld() async throws {
        let stubborn = Stubborn()
        await #expect(throws: TimedOut.self) {
            try await withDeadline(.milliseconds(50), timeoutError: { TimedOut() }) { await stubborn.run() }
        }
        let ended = stubborn.ended.load(ordering: .sequentiallyConsistent)
        #expect(!ended, "the operation had not ended")
        stubborn.release()
    }

    @Test("an operation that ends first gives its value or its error")
    func operationFirst() async throws {
        let value = try await withDeadline(.seconds(30), timeoutError: { TimedOut() }) { 42 }
        #expect(value == 42)
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await withDeadline(.seconds(30), timeoutError: { TimedOut() }) { () async throws -> Int in
                throw Refused()
            }
        }
    }

    @Test("cancelling the caller ends the wait with CancellationError")
    func callerCancelled() async throws {
        let stubborn = Stubborn()
        let task = Task {
            try await withDeadline(.seconds(30), timeoutError: { TimedOut() }) { await stubborn.run() }
        }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        stubborn.release()
    }
}
