import UsageModel

/// What a window of samples looks like (SPEC.md §1.3): the latest value, the moving average,
/// the peak and the trend. An empty window has every figure 0.
public struct UsagePattern: Sendable, Hashable, Codable {
    /// The latest value (a rate per second, or a level such as active connections).
    public var rate: Double
    /// Mean of the window.
    public var movingAverage: Double
    /// Largest sample of the window.
    public var peak: Double
    /// Least-squares slope, in units per second (0 with fewer than two samples).
    public var trend: Double
    public var samples: Int

    public init(rate: Double, movingAverage: Double, peak: Double, trend: Double, samples: Int) {
        self.rate = rate
        self.movingAverage = movingAverage
        self.peak = peak
        self.trend = trend
        self.samples = samples
    }

    public init(_ series: UsageSeries) {
        let samples = series.samples
        guard let last = samples.last else {
            self.init(rate: 0, movingAverage: 0, peak: 0, trend: 0, samples: 0)
            return
        }
        let line = LeastSquaresLine(samples)
        self.init(rate: last.value, movingAverage: line.meanValue, peak: samples.map(\.value).max() ?? 0,
                  trend: line.slope, samples: samples.count)
    }
}
