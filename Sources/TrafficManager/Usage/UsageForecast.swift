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
        guard let first = samples.first, let last = samples.last else {
            level = 0; trend = 0; anticipated = 0
            return
        }
        var level = first.value
        var trend = 0.0
        var time = first.time
        for sample in samples.dropFirst() {
            let dt = sample.time - time
            let carried = level + trend * dt
            let next = alpha * sample.value + (1 - alpha) * carried
            trend = beta * (next - level) / dt + (1 - beta) * trend
            level = next
            time = sample.time
        }
        self.level = level
        self.trend = trend
        let projected = level + trend * horizon
        anticipated = projected.isFinite ? max(0, projected) : max(0, last.value)
    }
}
