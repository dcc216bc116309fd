import Synchronization

/// What one core counts for one service: connections made to it, bytes each way, failed
/// connects, and how long connects and first responses took.
///
/// Single writer: only the event loop of the core writes (a load and a store, no
/// read-modify-write, nothing shared with other cores); `/metrics` reads the sum over cores.
final class CoreServiceCounters: Sendable {
    /// Connections to the service that completed (TLS: before the handshake).
    let connections = Atomic<Int>(0)
    let connectFailures = Atomic<Int>(0)
    /// Bytes relayed to the service (from its clients).
    let bytesSent = Atomic<Int>(0)
    /// Bytes relayed from the service (to its clients).
    let bytesReceived = Atomic<Int>(0)
    /// From the connect call to the connection being established.
    let connectTime = LatencyHistogram()
    /// From the connection being ready to the service's first byte back (for HTTP, the first
    /// response's time to first byte).
    let firstByteTime = LatencyHistogram()
    // Keep neighbouring cores' counters off this cache line.
    private let padding = (0, 0, 0, 0, 0, 0, 0, 0)

    init() {}
}

/// Counts of durations in fixed buckets (the upper bounds of `bounds`, then +Inf) and their
/// sum, kept by one writer thread.
final class LatencyHistogram: Sendable {
    /// Upper bounds in nanoseconds: 0.1 ms to 10 s.
    static let bounds: [UInt64] = [
        100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000,
        50_000_000, 100_000_000, 250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 10_000_000_000,
    ]
    /// Per bucket (not cumulative); the last one is +Inf.
    private let buckets: InlineArray<16, Atomic<Int>> = InlineArray { _ in Atomic(0) }
    private let sumNanos = Atomic<Int>(0)

    init() {}

    /// Records one duration. Single writer.
    @inline(__always)
    func record(nanos: UInt64) {
        var index = 0
        while index < Self.bounds.count && nanos > Self.bounds[index] { index += 1 }
        buckets[index].add(1)
        sumNanos.add(Int(truncatingIfNeeded: nanos))
    }

    /// The counts per bucket (not cumulative, +Inf last) and the sum in nanoseconds.
    var snapshot: (buckets: [Int], sumNanos: Int) {
        ((0..<16).map { buckets[$0].load(ordering: .relaxed) }, sumNanos.load(ordering: .relaxed))
    }
}

/// A service's counters summed over cores, at one moment.
struct ServiceCounterSnapshot: Sendable, Hashable {
    var connections = 0
    var connectFailures = 0
    var bytesSent = 0
    var bytesReceived = 0
    var connectBuckets = [Int](repeating: 0, count: 16)
    var connectSumNanos = 0
    var firstByteBuckets = [Int](repeating: 0, count: 16)
    var firstByteSumNanos = 0

    init(_ cores: [CoreServiceCounters]) {
        for core in cores {
            connections += core.connections.load(ordering: .relaxed)
            connectFailures += core.connectFailures.load(ordering: .relaxed)
            bytesSent += core.bytesSent.load(ordering: .relaxed)
            bytesReceived += core.bytesReceived.load(ordering: .relaxed)
            let connect = core.connectTime.snapshot
            let firstByte = core.firstByteTime.snapshot
            for index in 0..<16 {
                connectBuckets[index] += connect.buckets[index]
                firstByteBuckets[index] += firstByte.buckets[index]
            }
            connectSumNanos += connect.sumNanos
            firstByteSumNanos += firstByte.sumNanos
        }
    }
}
