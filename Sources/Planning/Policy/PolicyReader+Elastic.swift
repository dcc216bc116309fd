extension PolicyReader {
    static let elasticKeys = [
        "intervalSeconds", "cooldownSeconds", "hysteresisPercent", "maxConcurrentActions", "forecast",
        "pushAboveLoadPercent",
    ]
    static let forecastKeys = ["method", "horizonSeconds", "windowSeconds", "alpha", "beta"]
    static let placementKeys = ["weights", "distanceScaleKm", "costScalePerHour", "ioLatencyScaleMs"]
    static let weightKeys = ["capacity", "load", "distance", "cost", "speedTrade", "spread", "preference"]

    /// `elastic: {intervalSeconds, cooldownSeconds, hysteresisPercent, maxConcurrentActions,
    /// pushAboveLoadPercent, forecast: {method, horizonSeconds, windowSeconds, alpha, beta}}`
    mutating func readElastic(_ section: PolicyField, into draft: inout PolicyDraft) {
        if let first = draft.elasticDefinition {
            report(.duplicate, at: section.keyLocation, key: section.path, "elastic settings are already defined at \(first.location)")
            return
        }
        draft.elasticDefinition = PolicyReference(name: section.key, path: section.path, location: section.keyLocation)
        var e = ElasticSettings()
        var forecastFields: [String: PolicyField] = [:]
        let f = fields(of: section, allowed: Self.elasticKeys)
        if let v = f["intervalSeconds"], let x = number(v, "must be > 0", valid: { $0 > 0 }) { e.intervalSeconds = x }
        if let v = f["cooldownSeconds"], let x = number(v, "must be >= 0", valid: { $0 >= 0 }) { e.cooldownSeconds = x }
        if let v = f["hysteresisPercent"], let x = number(v, "must be in 0..<100", valid: { $0 >= 0 && $0 < 100 }) {
            e.hysteresisPercent = x
        }
        if let v = f["maxConcurrentActions"], let x = int(v, in: 1...Int.max) { e.maxConcurrentActions = x }
        if let v = f["pushAboveLoadPercent"], let x = number(v, "must be in 1...100", valid: { $0 >= 1 && $0 <= 100 }) {
            e.pushAboveLoadPercent = x
        }
        if let v = f["forecast"] {
            let g = fields(of: v, allowed: Self.forecastKeys)
            forecastFields = g
            if let v = g["horizonSeconds"], let x = number(v, "must be >= 0", valid: { $0 >= 0 }) { e.horizonSeconds = x }
            if let v = g["windowSeconds"], let x = number(v, "must be > 0", valid: { $0 > 0 }) { e.windowSeconds = x }
            let unit = "must be in 0 < x <= 1"
            let alpha = g["alpha"].flatMap { number($0, unit) { $0 > 0 && $0 <= 1 } }
            let beta = g["beta"].flatMap { number($0, unit) { $0 > 0 && $0 <= 1 } }
            var method = "holt"
            if let v = g["method"], let word = string(v) {
                if ["holt", "linear"].contains(word) {
                    method = word
                } else {
                    report(.invalidValue, at: v.valueLocation, key: v.path, "'\(word)' is not one of holt, linear")
                }
            }
            if method == "linear" {
                for key in ["alpha", "beta"] {
                    if let v = g[key] {
                        report(.impossibleCombination, at: v.keyLocation, key: v.path, "\(key) applies to method holt only, not linear")
                    }
                }
                e.forecastMethod = .linear
            } else {
                e.forecastMethod = .holt(alpha: alpha ?? 0.3, beta: beta ?? 0.1)
            }
        }
        if e.windowSeconds < 2 * e.intervalSeconds {
            let culprit = forecastFields["windowSeconds"] ?? f["intervalSeconds"] ?? section
            report(.impossibleCombination, at: culprit.valueLocation, key: culprit.path,
                   "windowSeconds \(ReasonText.plain(e.windowSeconds)) must cover at least two intervals (2 × intervalSeconds = \(ReasonText.plain(2 * e.intervalSeconds))) to show a trend")
        }
        draft.elastic = e
    }

    /// `placement: {weights: {capacity, load, distance, cost, speedTrade, spread, preference},
    /// distanceScaleKm, costScalePerHour, ioLatencyScaleMs}`
    mutating func readPlacement(_ section: PolicyField, into draft: inout PolicyDraft) {
        if let first = draft.placementDefinition {
            report(.duplicate, at: section.keyLocation, key: section.path, "placement settings are already defined at \(first.location)")
            return
        }
        draft.placementDefinition = PolicyReference(name: section.key, path: section.path, location: section.keyLocation)
        var w = PlacementWeights.standard
        let f = fields(of: section, allowed: Self.placementKeys)
        if let v = f["weights"] {
            let g = fields(of: v, allowed: Self.weightKeys)
            func weight(_ key: String, _ reader: inout PolicyReader) -> Double? {
                g[key].flatMap { reader.number($0, "must be >= 0") { $0 >= 0 } }
            }
            if let x = weight("capacity", &self) { w.capacity = x }
            if let x = weight("load", &self) { w.load = x }
            if let x = weight("distance", &self) { w.distance = x }
            if let x = weight("cost", &self) { w.cost = x }
            if let x = weight("speedTrade", &self) { w.speedTrade = x }
            if let x = weight("spread", &self) { w.spread = x }
            if let x = weight("preference", &self) { w.preference = x }
        }
        if let v = f["distanceScaleKm"], let x = number(v, "must be > 0", valid: { $0 > 0 }) { w.distanceScaleKm = x }
        if let v = f["costScalePerHour"], let x = number(v, "must be > 0", valid: { $0 > 0 }) { w.costScalePerHour = x }
        if let v = f["ioLatencyScaleMs"], let x = number(v, "must be > 0", valid: { $0 > 0 }) { w.ioLatencyScaleMs = x }
        draft.placementWeights = w
    }
}
