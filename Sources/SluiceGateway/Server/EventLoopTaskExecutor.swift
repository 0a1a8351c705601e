import NIOCore

/// Runs a task's jobs on one NIO event loop. A connection's handling prefers the loop that owns its socket,
/// so reading a request, running the gateway's code and writing the answer happen on one thread, with no
/// hand-off to Swift's global pool and back for every request.
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: immutable; EventLoop is Sendable.
    let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
