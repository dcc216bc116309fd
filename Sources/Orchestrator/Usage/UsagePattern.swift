/// What a series of samples looks like: the figures the usage monitors publish per task and
/// resource (SPEC 1.3) and the elastic planner quotes in its reasons.
///
/// All figures are over the samples given (the caller windows the series). An empty series
/// has every figure 0 and `sampleCount` 0.
public struct UsagePattern: Sendable, Hashable {
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

/// The least-squares line through samples, centred on their mean time (numerically stable for
/// large epoch timestamps).
struct LeastSquaresLine: Sendable {
    var meanTime: Double
    var meanValue: Double
    /// Units per second; 0 when all samples share one time or there is only one.
    var slope: Double

    init(_ samples: [UsageSample]) {
        guard !samples.isEmpty else {
            meanTime = 0; meanValue = 0; slope = 0
            return
        }
        let n = Double(samples.count)
        var sumT = 0.0, sumV = 0.0
        for s in samples { sumT += s.time; sumV += s.value }
        meanTime = sumT / n
        meanValue = sumV / n
        var covariance = 0.0, variance = 0.0
        for s in samples {
            let dt = s.time - meanTime
            covariance += dt * (s.value - meanValue)
            variance += dt * dt
        }
        slope = variance > 0 ? covariance / variance : 0
    }

    func value(at time: Double) -> Double {
        meanValue + slope * (time - meanTime)
    }
}
