/// How anticipated usage is computed from a window of samples.
public enum ForecastMethod: Sendable, Hashable {
    /// The least-squares line through the window (moving average plus trend), evaluated
    /// `horizon` seconds after the last sample.
    case linear
    /// Holt's linear exponential smoothing (level + trend), adapted to irregular sample
    /// intervals: `alpha` smooths the level, `beta` the trend; both in (0, 1].
    case holt(alpha: Double, beta: Double)

    /// The name used in policy files (`forecast.method`).
    public var name: String {
        switch self {
        case .linear: "linear"
        case .holt: "holt"
        }
    }
}
