import UsageModel

extension UsageSeries {
    /// A series of `capacity` samples at most, fed `(time, value)` pairs in order through
    /// `append` (as the traffic manager's monitors feed theirs).
    static func bounded(_ values: [(Double, Double)], capacity: Int = 100) -> UsageSeries {
        var series = UsageSeries(capacity: capacity)
        for (time, value) in values { series.append(UsageSample(time: time, value: value)) }
        return series
    }
}
