/// A time-ordered series of samples of one resource of one task.
///
/// Contract: samples are kept in increasing time order; a sample whose time is not after the
/// last one replaces nothing and is ignored (monitors may repeat a reading). Non-finite values
/// are ignored too, so one bad reading cannot poison the forecast. A series with a `capacity`
/// keeps at most that many samples, dropping the oldest first (the traffic manager's bounded
/// window); one without is windowed by its owner with `trim(before:)` (the planner's).
public struct UsageSeries: Sendable, Hashable {
    /// The most samples kept, or nil for no bound.
    public let capacity: Int?
    public private(set) var samples: [UsageSample]

    /// An empty series.
    /// - Precondition: `capacity`, if given, is at least 1 (traps otherwise).
    public init(capacity: Int? = nil) {
        if let capacity { precondition(capacity >= 1, "a series holds at least one sample") }
        self.capacity = capacity
        samples = []
    }

    /// A series from samples in any order; duplicates in time keep the first one seen.
    public init(_ samples: some Sequence<UsageSample>, capacity: Int? = nil) {
        self.init(capacity: capacity)
        for sample in samples.sorted(by: { $0.time < $1.time }) {
            append(sample)
        }
    }

    /// Rates from a cumulative counter (CPU seconds, bytes): one sample per interval between
    /// two readings, valued `(c1 - c0) / (t1 - t0)` and stamped at `t1`. A counter that goes
    /// backwards (a restart) yields no sample for that interval.
    public init(counters: some Sequence<UsageSample>, capacity: Int? = nil) {
        self.init(capacity: capacity)
        var previous: UsageSample?
        for reading in counters.sorted(by: { $0.time < $1.time }) {
            defer { previous = reading }
            guard let before = previous, reading.time > before.time, reading.value >= before.value else {
                continue
            }
            append(UsageSample(time: reading.time, value: (reading.value - before.value) / (reading.time - before.time)))
        }
    }

    public var isEmpty: Bool { samples.isEmpty }
    public var count: Int { samples.count }
    public var last: UsageSample? { samples.last }

    /// Appends `sample` if it is finite and strictly later than the last sample; at capacity,
    /// the oldest sample makes room.
    public mutating func append(_ sample: UsageSample) {
        guard sample.time.isFinite, sample.value.isFinite else { return }
        if let last = samples.last, sample.time <= last.time { return }
        if let capacity, samples.count == capacity { samples.removeFirst() }
        samples.append(sample)
    }

    /// Drops samples older than `oldest` (keeps samples at exactly `oldest`).
    public mutating func trim(before oldest: Double) {
        guard let firstKept = samples.firstIndex(where: { $0.time >= oldest }) else {
            samples.removeAll(keepingCapacity: true)
            return
        }
        if firstKept > 0 { samples.removeFirst(firstKept) }
    }
}
