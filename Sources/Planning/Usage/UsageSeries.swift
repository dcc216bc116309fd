import UsageModel
/// A time-ordered series of samples of one resource of one task.
///
/// Contract: samples are kept in increasing time order; a sample whose time is not after the
/// last one replaces nothing and is ignored (monitors may repeat a reading). Non-finite values
/// are ignored too, so one bad reading cannot poison the forecast.
public struct UsageSeries: Sendable, Hashable {
    public private(set) var samples: [UsageSample]

    public init() {
        samples = []
    }

    /// A series from samples in any order; duplicates in time keep the first one seen.
    public init(_ samples: some Sequence<UsageSample>) {
        self.samples = []
        for sample in samples.sorted(by: { $0.time < $1.time }) {
            append(sample)
        }
    }

    /// Rates from a cumulative counter (CPU seconds, bytes): one sample per interval between
    /// two readings, valued `(c1 - c0) / (t1 - t0)` and stamped at `t1`. A counter that goes
    /// backwards (a restart) yields no sample for that interval.
    public init(counters: some Sequence<UsageSample>) {
        self.samples = []
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

    /// Appends `sample` if it is finite and strictly later than the last sample.
    public mutating func append(_ sample: UsageSample) {
        guard sample.time.isFinite, sample.value.isFinite else { return }
        if let last = samples.last, sample.time <= last.time { return }
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
