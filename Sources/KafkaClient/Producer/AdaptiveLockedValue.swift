#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a lock that spins for a short while before it puts the waiting thread to sleep (glibc's adaptive
/// mutex; elsewhere an ordinary one).
///
/// For the producer's bookkeeping, which every event loop takes for each record it produces and holds for well
/// under a microsecond: an ordinary mutex puts a thread that finds it taken to sleep at once, and the owner then
/// has to wake it with a system call, several microseconds for what a short wait would have settled. A long spin
/// is no better on a machine whose cores are all busy, since it takes the time from the threads that would make
/// progress (`docs/data-path.md`).
final class AdaptiveLockedValue<Value> {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        #if canImport(Glibc)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        #endif
        let result = pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
        precondition(result == 0, "pthread_mutex_init failed: \(result)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    func withLockedValue<T, E: Error>(_ body: (inout Value) throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

// The value is only reached under the lock.
extension AdaptiveLockedValue: @unchecked Sendable where Value: Sendable {}
