/// A task's usage of one resource: its pattern so far and what is anticipated next.
public struct UsageOutlook: Sendable, Hashable {
    public var resource: UsageResource
    public var pattern: UsagePattern
    public var forecast: UsageForecast

    public init(resource: UsageResource, pattern: UsagePattern, forecast: UsageForecast) {
        self.resource = resource
        self.pattern = pattern
        self.forecast = forecast
    }

    /// Anticipated usage (the forecast), the figure thresholds are compared with.
    public var anticipated: Double { forecast.anticipated }
}

extension UsageHistory {
    /// Pattern and forecast of every resource recorded for `task`.
    public func outlook(task: String, method: ForecastMethod, horizon: Double) -> [UsageResource: UsageOutlook] {
        guard let resources = series[task] else { return [:] }
        var result: [UsageResource: UsageOutlook] = [:]
        for (resource, series) in resources where !series.isEmpty {
            result[resource] = UsageOutlook(
                resource: resource, pattern: UsagePattern(series),
                forecast: UsageForecast(series, method: method, horizon: horizon))
        }
        return result
    }
}
