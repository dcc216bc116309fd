/// The least-squares line through samples, centred on their mean time (numerically stable for
/// large epoch timestamps).
public struct LeastSquaresLine: Sendable, Hashable {
    public var meanTime: Double
    public var meanValue: Double
    /// Units per second; 0 when all samples share one time or there is only one.
    public var slope: Double

    public init(_ samples: [UsageSample]) {
        guard !samples.isEmpty else {
            meanTime = 0; meanValue = 0; slope = 0
            return
        }
        let count = Double(samples.count)
        var sumTime = 0.0, sumValue = 0.0
        for sample in samples {
            sumTime += sample.time
            sumValue += sample.value
        }
        meanTime = sumTime / count
        meanValue = sumValue / count
        var covariance = 0.0, variance = 0.0
        for sample in samples {
            let dt = sample.time - meanTime
            covariance += dt * (sample.value - meanValue)
            variance += dt * dt
        }
        slope = variance > 0 ? covariance / variance : 0
    }

    public func value(at time: Double) -> Double {
        meanValue + slope * (time - meanTime)
    }
}
