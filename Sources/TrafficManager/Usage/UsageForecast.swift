import UsageModel

/// Anticipated usage of one resource `horizon` seconds after the last sample, by Holt's
/// linear exponential smoothing on (possibly irregular) intervals.
///
/// Contract: `anticipated` is finite and never negative; with no samples it is 0, with one it
/// is that sample.
public struct UsageForecast: Sendable, Hashable, Codable {
    public var horizon: Double
    /// The smoothed current value.
    public var level: Double
    /// The smoothed trend, units per second.
    public var trend: Double
    /// `max(0, level + trend * horizon)`.
    public var anticipated: Double

    public init(_ series: UsageSeries, horizon: Double, alpha: Double, beta: Double) {
        self.horizon = horizon
        let samples = series.samples
        guard let last = samples.last else {
            level = 0; trend = 0; anticipated = 0
            return
        }
        (level, trend) = HoltSmoothing.smooth(samples, alpha: alpha, beta: beta)
        let projected = level + trend * horizon
        anticipated = projected.isFinite ? max(0, projected) : max(0, last.value)
    }
}
