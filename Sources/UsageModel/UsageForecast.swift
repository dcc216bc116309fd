/// Anticipated usage of one resource `horizon` seconds after the last sample.
///
/// Contract: `anticipated` is finite and never negative (usage cannot be); with no samples it
/// is 0, with one sample it is that sample.
///
/// Encoded (the traffic manager's `/usage`) with the keys `method`, `horizon`, `level`,
/// `trend` and `anticipated`.
public struct UsageForecast: Sendable, Hashable, Codable {
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
            (level, trend) = HoltSmoothing.smooth(samples, alpha: alpha, beta: beta)
        }
        let projected = level + trend * horizon
        anticipated = projected.isFinite ? max(0, projected) : max(0, last.value)
    }
}
