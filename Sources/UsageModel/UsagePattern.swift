/// What a series of samples looks like: the figures the usage monitors publish per task and
/// resource (SPEC 1.3) and the elastic planner quotes in its reasons.
///
/// All figures are over the samples given (the caller windows the series). An empty series
/// has every figure 0 and `sampleCount` 0.
///
/// Encoded (the traffic manager's `/usage`) with the keys `rate`, `movingAverage`, `peak`,
/// `trend`, `samples` (the sample count) and `span`.
public struct UsagePattern: Sendable, Hashable, Codable {
    /// The latest value (a rate: per second, or a level such as connections).
    public var rate: Double
    /// Arithmetic mean of the samples.
    public var movingAverage: Double
    /// Largest sample.
    public var peak: Double
    /// Least-squares slope in units per second; 0 with fewer than two samples.
    public var trend: Double
    public var sampleCount: Int
    /// Seconds between the first and the last sample.
    public var span: Double

    enum CodingKeys: String, CodingKey {
        case rate, movingAverage, peak, trend, span
        case sampleCount = "samples"
    }

    public init(rate: Double, movingAverage: Double, peak: Double, trend: Double, sampleCount: Int, span: Double) {
        self.rate = rate
        self.movingAverage = movingAverage
        self.peak = peak
        self.trend = trend
        self.sampleCount = sampleCount
        self.span = span
    }

    public init(_ series: UsageSeries) {
        let samples = series.samples
        guard let first = samples.first, let last = samples.last else {
            self.init(rate: 0, movingAverage: 0, peak: 0, trend: 0, sampleCount: 0, span: 0)
            return
        }
        let line = LeastSquaresLine(samples)
        self.init(
            rate: last.value,
            movingAverage: line.meanValue,
            peak: samples.lazy.map(\.value).max() ?? 0,
            trend: line.slope,
            sampleCount: samples.count,
            span: last.time - first.time
        )
    }
}
