#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `body(index)` on `count` new OS threads at once and waits for all of them.
/// (A test helper: real threads, not tasks, so cores truly run in parallel.)
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Box: @unchecked Sendable {
        // Written once before the thread starts, read by that thread only.
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
    var threads: [pthread_t] = []
    for index in 0..<count {
        let box = Unmanaged.passRetained(Box { body(index) })
        var thread = pthread_t()
        let error = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.run()
            return nil
        }, box.toOpaque())
        precondition(error == 0, "pthread_create failed: \(error)")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

/// Whether the process runs under ThreadSanitizer (its runtime is linked in), so that the
/// stress tests can scale their operation counts to what TSan can run in reasonable time.
let runningUnderThreadSanitizer: Bool = {
    #if canImport(Darwin)
    return dlsym(UnsafeMutableRawPointer(bitPattern: -2), "__tsan_init") != nil  // RTLD_DEFAULT
    #else
    return dlsym(nil, "__tsan_init") != nil  // RTLD_DEFAULT
    #endif
}()
