#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a pthread mutex, for the control plane only (publishing a new limit,
/// the wait queue; the traffic manager's access log and session store). The admission and
/// release fast paths never take it. Used instead of the standard library's `Mutex` where
/// ThreadSanitizer must follow the locking: it intercepts pthread mutexes, but on Linux
/// `Mutex`'s contended path runs inside the uninstrumented runtime.
///
/// `@unchecked Sendable`: `value` is only read or written inside `withLock`, which holds the
/// mutex; the mutex itself lives at a stable heap address for the object's lifetime.
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let error = pthread_mutex_init(mutex, nil)
        precondition(error == 0, "pthread_mutex_init failed: \(error)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
