extension PlacementEngine {
    /// Scores one candidate that passed every filter. The total is returned in full precision
    /// for ranking, so the ranking does not depend on how compactly the breakdown is stored.
    func score(
        host: HostSnapshot, vector: GeoUnitVector, request: PlacementRequest, servers: [GeoUnitVector],
        members: Int32, preferred: Bool
    ) -> (total: Double, breakdown: ScoreBreakdown) {
        let w = weights
        let need = request.footprint
        let free = host.capacity - host.used
        let capacity = min(
            Self.fraction(free.vcpus - need.vcpus, of: host.capacity.vcpus),
            Self.fraction(free.memoryMiB - need.memoryMiB, of: host.capacity.memoryMiB),
            Self.fraction(free.cvms - need.cvms, of: host.capacity.cvms))
        let load = 1 - min(1, max(0, host.load))

        var distance = 1.0
        var distanceKm = Double.nan
        if !servers.isEmpty {
            var sum = 0.0
            for server in servers { sum += vector.distanceKm(to: server) }
            distanceKm = sum / Double(servers.count)
            distance = 1 / (1 + distanceKm / w.distanceScaleKm)
        }

        let costPerHour = max(0, host.costPerHour)
        let cost: Double
        if let ceiling = request.tier.costCeilingPerHour, ceiling > 0 {
            cost = 1 - min(1, costPerHour / ceiling)
        } else {
            cost = 1 / (1 + costPerHour / w.costScalePerHour)
        }

        let speed = SpeedTrade.relativeSpeed(
            profile: request.profile, cpuSpeed: host.cpuSpeed, load: host.load, latencyMs: host.latencyMs,
            ioLatencyScaleMs: w.ioLatencyScaleMs)
        let speedTrade = speed / (1 + speed)
        let spread = 1 / (1 + Double(members))
        let preference = preferred ? 1.0 : 0.0

        let total = w.capacity * capacity + w.load * load + w.distance * distance + w.cost * cost
            + w.speedTrade * speedTrade + w.spread * spread + w.preference * preference
        let breakdown = ScoreBreakdown(
            capacity: capacity, load: load, distance: distance, cost: cost, speedTrade: speedTrade, spread: spread,
            preference: preference, total: total, distanceKm: distanceKm)
        return (total, breakdown)
    }

    /// `part / whole` clamped to 0...1; 0 for an empty whole.
    static func fraction(_ part: Int, of whole: Int) -> Double {
        guard whole > 0 else { return 0 }
        return min(1, max(0, Double(part) / Double(whole)))
    }
}
