/// Holt's linear exponential smoothing on (possibly irregular) intervals: the level is pulled
/// towards each sample from the previous level carried forward by the trend over the elapsed
/// time; the trend is pulled towards the level's change per second. Samples are usage (never
/// negative), and so is the level.
public enum HoltSmoothing {
    /// The smoothed level and trend (units per second) after the last of `samples`, which
    /// must not be empty and must have strictly increasing times.
    public static func smooth(_ samples: [UsageSample], alpha: Double, beta: Double) -> (level: Double, trend: Double) {
        precondition(!samples.isEmpty, "Holt smoothing needs at least one sample")
        var level = samples[0].value
        var trend = 0.0
        var time = samples[0].time
        for sample in samples.dropFirst() {
            let dt = sample.time - time
            // Usage is never negative: a falling trend carries the level down to zero, not below
            // (below, the next samples would first have to climb back to zero).
            let carried = max(0, level + trend * dt)
            let next = alpha * sample.value + (1 - alpha) * carried
            trend = beta * (next - level) / dt + (1 - beta) * trend
            level = next
            time = sample.time
        }
        return (level, trend)
    }
}
