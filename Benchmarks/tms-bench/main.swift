// tms-bench: the cost of the quota fast paths, next to references measured in the same run.
//
//   swift run -c release tms-bench [pairs-per-run]
//
// Every figure is nanoseconds per operation PAIR (admit+release, borrow+return, inc+dec,
// lock/inc/unlock+lock/dec/unlock) on one thread, measured with clock_gettime(CLOCK_MONOTONIC)
// around a timed loop. With 2 threads each thread runs the same loop at once (the scheduler
// spreads them over the CPUs); throughput = pairs done by all threads per second. Each figure
// is the best of 11 runs (what the code costs when nothing else interrupts it — this machine
// is shared), with the median of the runs in brackets. The runs of all figures are
// interleaved. If "bare atomic (one per thread), 2 threads / 1 thread" is well below 2x,
// something else was using the CPUs during the run.

import Atomics
import TMSCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// A counter behind a pthread mutex: the classic locked design the pools are compared with.
/// `@unchecked Sendable`: `value` is only touched between lock and unlock.
final class MutexCounter: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value = 0
    init() { pthread_mutex_init(mutex, nil) }
    deinit { pthread_mutex_destroy(mutex); mutex.deallocate() }
    @inline(never) func add(_ delta: Int) {
        pthread_mutex_lock(mutex)
        value &+= delta
        pthread_mutex_unlock(mutex)
    }
    var current: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return value
    }
}

/// Runs `body(thread)` on `threads` OS threads started together; returns the wall time in
/// nanoseconds from the common start to the last thread's end.
let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))

func timed(threads: Int, _ body: @escaping @Sendable (Int) -> Void) -> UInt64 {
    final class Box: @unchecked Sendable {  // handed to exactly one thread, read-only there
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
    let ready = ManagedAtomic<Int>(0)
    let go = ManagedAtomic<Bool>(false)
    var ids: [pthread_t] = []
    for thread in 0..<threads {
        let box = Unmanaged.passRetained(Box {
            ready.wrappingIncrement(ordering: .sequentiallyConsistent)
            while !go.load(ordering: .acquiring) {}
            body(thread)
        })
        var id = pthread_t()
        pthread_create(&id, nil, { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box.toOpaque())
        ids.append(id)
    }
    while ready.load(ordering: .sequentiallyConsistent) < threads {}
    let start = monotonicNanoseconds()
    go.store(true, ordering: .releasing)
    for id in ids { pthread_join(id, nil) }
    return monotonicNanoseconds() - start
}

struct Sample {
    /// ns per pair per thread: best run and median run.
    let best: Double
    let median: Double

    init(_ runs: [Double]) {
        let sorted = runs.sorted()
        best = sorted[0]
        median = sorted[sorted.count / 2]
    }
}

struct Figure {
    let name: String
    let one: Sample
    let two: Sample
    /// Throughput of 2 threads over 1 thread (best runs).
    var speedup: Double { 2 * one.best / two.best }
}

let pairs = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1])! : 2_000_000
let runs = 11

/// A benchmark: a fresh loop body per run (so no run inherits state from the one before).
struct Benchmark {
    let name: String
    let makeBody: () -> @Sendable (Int) -> Void
}

let limit = 10_000_000
let sharedAtomic = ManagedAtomic<Int>(0)
let mutexCounter = MutexCounter()

let benchmarks = [
    Benchmark(name: "bare atomic inc+dec (ManagedAtomic, one per thread)") {
        { _ in
            // Allocated by the thread itself, so each counter is in its own thread's arena.
            let counter = ManagedAtomic<Int>(0)
            for _ in 0..<pairs {
                counter.wrappingIncrement(ordering: .relaxed)
                counter.wrappingDecrement(ordering: .relaxed)
            }
            precondition(counter.load(ordering: .relaxed) == 0)
        }
    },
    Benchmark(name: "bare atomic inc+dec (one shared ManagedAtomic)") {
        { _ in
            for _ in 0..<pairs {
                sharedAtomic.wrappingIncrement(ordering: .relaxed)
                sharedAtomic.wrappingDecrement(ordering: .relaxed)
            }
        }
    },
    Benchmark(name: "mutex-guarded counter inc+dec (pthread, shared)") {
        { _ in
            for _ in 0..<pairs {
                mutexCounter.add(1)
                mutexCounter.add(-1)
            }
        }
    },
    Benchmark(name: "admit+release, exclusive path (VServerQuota)") {
        let quota = try! VServerQuota(PoolConfig(limit: limit, cores: 2))
        return { core in
            for _ in 0..<pairs {
                guard case .admitted(.exclusive) = quota.admit(core: core) else { fatalError("not admitted") }
                quota.release(core: core)
            }
        }
    },
    Benchmark(name: "borrow+return a batch (admit+release, exclusive 0 %, batch 1)") {
        let config = PoolConfig(limit: limit, cores: 2, exclusivePercent: .zero, batchPercent: .zero)
        let quota = try! VServerQuota(config)
        return { core in
            for _ in 0..<pairs {
                guard case .admitted(.newBatch) = quota.admit(core: core) else { fatalError("not borrowed") }
                guard quota.release(core: core).returnedToShared == 1 else { fatalError("not returned") }
            }
        }
    },
]

// Rounds outside, benchmarks inside: every figure is sampled in every round, so load from
// other processes (this machine is shared) hits all of them alike and the ratios stay fair.
var samples = Array(repeating: (one: [Double](), two: [Double]()), count: benchmarks.count)
for _ in 0..<runs {
    for (index, benchmark) in benchmarks.enumerated() {
        samples[index].one.append(Double(timed(threads: 1, benchmark.makeBody())) / Double(pairs))
        samples[index].two.append(Double(timed(threads: 2, benchmark.makeBody())) / Double(pairs))
    }
}
let figures = zip(benchmarks, samples).map { Figure(name: $0.name, one: Sample($1.one), two: Sample($1.two)) }

precondition(sharedAtomic.load(ordering: .relaxed) == 0 && mutexCounter.current == 0)

func format(_ value: Double, _ digits: Int = 1) -> String {
    var scaled = (value * pow(10, Double(digits))).rounded() / pow(10, Double(digits))
    if scaled == -0 { scaled = 0 }
    let text = "\(scaled)"
    return text
}

func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let padding = String(repeating: " ", count: max(0, width - text.count))
    return right ? padding + text : text + padding
}

func cell(_ sample: Sample) -> String { "\(format(sample.best)) [\(format(sample.median))]" }

print("tms-bench: ns per operation pair per thread, best of \(runs) runs [median] of \(pairs) pairs, "
      + "CLOCK_MONOTONIC, \(cpus) CPUs")
print("quota fast path ordered by \(VServerQuota.fastPathOrdering)")
print("")
print(pad("", 62) + pad("1 thread", 16, right: true) + pad("2 threads", 16, right: true)
      + pad("2T/1T throughput", 18, right: true))
for figure in figures {
    print(pad(figure.name, 62) + pad(cell(figure.one), 16, right: true) + pad(cell(figure.two), 16, right: true)
          + pad(format(figure.speedup, 2) + "x", 18, right: true))
}
let atomic = figures[0], shared = figures[1], mutex = figures[2], exclusive = figures[3], borrow = figures[4]
func ratio(_ a: Sample, _ b: Sample) -> String { "\(format(a.best / b.best, 2))x [\(format(a.median / b.median, 2))x]" }
print("")
print("exclusive admit+release / bare atomic inc+dec, 1 thread:   \(ratio(exclusive.one, atomic.one))  (goal <= 1.0x)")
print("exclusive path, 2 threads' throughput / 1 thread's:         \(format(exclusive.speedup, 2))x "
      + "[\(format(2 * exclusive.one.median / exclusive.two.median, 2))x]  (goal >= 1.9x)")
print("bare atomic (one per thread), 2 threads / 1 thread:         \(format(atomic.speedup, 2))x  (what this machine allows)")
print("exclusive admit+release / mutex counter inc+dec, 1 thread:  \(ratio(exclusive.one, mutex.one))")
print("exclusive admit+release / mutex counter inc+dec, 2 threads: \(ratio(exclusive.two, mutex.two))")
print("borrow+return / bare atomic inc+dec, 1 thread:              \(ratio(borrow.one, atomic.one))")
print("borrow+return / shared atomic inc+dec, 2 threads:           \(ratio(borrow.two, shared.two))")
