/// Anticipated usage of one resource `horizon` seconds after the last sample.
///
/// Contract: `anticipated` is finite and never negative (usage cannot be); with no samples it
/// is 0, with one sample it is that sample.
public struct UsageForecast: Sendable, Hashable {
    public var method: ForecastMethod
    public var horizon: Double
    /// The smoothed current value the forecast starts from.
    public var level: Double
    /// The smoothed trend in units per second.
    public var trend: Double
    /// `max(0, level + trend * horizon)`.
    public var anticipated: Double

    public init(_ series: UsageSeries, method: ForecastMethod, horizon: Double) {
        let samples = series.samples
        self.method = method
        self.horizon = horizon
        guard let last = samples.last else {
            level = 0; trend = 0; anticipated = 0
            return
        }
        switch method {
        case .linear:
            let line = LeastSquaresLine(samples)
            level = line.value(at: last.time)
            trend = line.slope
        case let .holt(alpha, beta):
            (level, trend) = Self.holt(samples, alpha: alpha, beta: beta)
        }
        let projected = level + trend * horizon
        anticipated = projected.isFinite ? max(0, projected) : max(0, last.value)
    }

    /// Holt's method on irregular intervals: the level is pulled towards each sample from the
    /// previous level carried forward by the trend over the elapsed time; the trend is pulled
    /// towards the level's change per second.
    static func holt(_ samples: [UsageSample], alpha: Double, beta: Double) -> (level: Double, trend: Double) {
        var level = samples[0].value
        var trend = 0.0
        var time = samples[0].time
        for sample in samples.dropFirst() {
            let dt = sample.time - time
            let carried = level + trend * dt
            let newLevel = alpha * sample.value + (1 - alpha) * carried
            trend = beta * (newLevel - level) / dt + (1 - beta) * trend
            level = newLevel
            time = sample.time
        }
        return (level, trend)
    }
}
