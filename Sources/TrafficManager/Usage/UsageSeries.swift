import UsageModel

/// A bounded, time-ordered window of samples of one resource of one task.
///
/// Contract: times strictly increase (a sample not after the last one is ignored, as is a
/// non-finite one); at most `capacity` samples are kept, the oldest dropped first.
/// (The same rules as the orchestrator's `UsageSeries`, reimplemented here because the traffic
/// manager does not depend on the orchestrator.)
public struct UsageSeries: Sendable, Hashable {
    public let capacity: Int
    public private(set) var samples: [UsageSample] = []

    public init(capacity: Int) {
        precondition(capacity >= 1, "a series holds at least one sample")
        self.capacity = capacity
    }

    public mutating func append(_ sample: UsageSample) {
        guard sample.time.isFinite, sample.value.isFinite else { return }
        if let last = samples.last, sample.time <= last.time { return }
        if samples.count == capacity { samples.removeFirst() }
        samples.append(sample)
    }
}
