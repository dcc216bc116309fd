/// How the elastic loop paces itself.
public struct ElasticSettings: Sendable, Hashable {
    /// Seconds between two evaluations.
    public var intervalSeconds: Double
    /// Seconds after an action on a task before the next scaling or rebalancing action on it.
    public var cooldownSeconds: Double
    /// Hysteresis band in percent: scale out above a threshold, in only below
    /// `threshold * (1 - band)`; push to the cloud above `pushAboveLoadPercent`, bring back only
    /// below `pushAboveLoadPercent * (1 - band)`.
    public var hysteresisPercent: Double
    /// At most this many deploys, migrations and decommissions under way at once.
    public var maxConcurrentActions: Int
    public var forecastMethod: ForecastMethod
    /// How far ahead usage is anticipated, in seconds.
    public var horizonSeconds: Double
    /// How much history the forecast looks at, in seconds.
    public var windowSeconds: Double
    /// Load of a local host (percent) above which its CVMs are pushed to cloud hosts.
    public var pushAboveLoadPercent: Double

    public init(
        intervalSeconds: Double = 15, cooldownSeconds: Double = 300, hysteresisPercent: Double = 20,
        maxConcurrentActions: Int = 2, forecastMethod: ForecastMethod = .holt(alpha: 0.3, beta: 0.1),
        horizonSeconds: Double = 60, windowSeconds: Double = 900, pushAboveLoadPercent: Double = 85
    ) {
        self.intervalSeconds = intervalSeconds
        self.cooldownSeconds = cooldownSeconds
        self.hysteresisPercent = hysteresisPercent
        self.maxConcurrentActions = maxConcurrentActions
        self.forecastMethod = forecastMethod
        self.horizonSeconds = horizonSeconds
        self.windowSeconds = windowSeconds
        self.pushAboveLoadPercent = pushAboveLoadPercent
    }

    /// The hysteresis band as a fraction (0.2 for 20 %).
    public var band: Double { hysteresisPercent / 100 }
    /// Local load (0...1) above which CVMs are pushed out.
    public var pushLoad: Double { pushAboveLoadPercent / 100 }
    /// Local load (0...1) below which, CVM included, a pushed CVM may come back.
    public var bringBackLoad: Double { pushLoad * (1 - band) }
}
