import NIOCore
import Synchronization

/// Runs tasks handed over from other threads on one event loop, several per wake-up: the first task of a burst
/// schedules a run, the ones that come before it runs join it. An endpoint that settles a whole batch of publishes
/// at once (a Kafka produce answer for sixty records) then costs each connection's loop one wake-up, not one per
/// record. Tasks run in the order they were handed over.
final class LoopTaskBatch: Sendable {
    let eventLoop: any EventLoop
    private struct Work {
        let run: @Sendable () -> Void
    }

    private struct State {
        /// Each task in a struct: a function stored straight in an array is kept in the array's generic form,
        /// which takes an allocation per task to convert it.
        var tasks: [Work] = []
        /// The list the last run emptied, kept for its room: the next burst fills it without growing it again.
        var spare: [Work] = []
        var scheduled = false
    }
    private let state = Mutex(State())

    private init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    private static let batches = Mutex<[ObjectIdentifier: LoopTaskBatch]>([:])

    /// The batch of `eventLoop` (one per loop, for the life of the process: a gateway has a loop per core).
    static func of(_ eventLoop: any EventLoop) -> LoopTaskBatch {
        batches.withLock { batches in
            let key = ObjectIdentifier(eventLoop)
            if let batch = batches[key] { return batch }
            let batch = LoopTaskBatch(eventLoop: eventLoop)
            batches[key] = batch
            return batch
        }
    }

    /// Runs `task` on the loop, after the tasks handed over before it.
    func execute(_ task: @escaping @Sendable () -> Void) {
        let schedule = state.withLock { state in
            state.tasks.append(Work(run: task))
            guard !state.scheduled else { return false }
            state.scheduled = true
            return true
        }
        if schedule { eventLoop.execute { self.run() } }
    }

    private func run() {
        var tasks = state.withLock { state in
            state.scheduled = false
            let tasks = state.tasks
            state.tasks = state.spare
            state.spare = []
            return tasks
        }
        for task in tasks { task.run() }
        tasks.removeAll(keepingCapacity: true)
        state.withLock { state in
            if state.spare.capacity < tasks.capacity { state.spare = tasks }
        }
    }
}
