/// How a candidate that passed every filter scored, term by term.
///
/// Every term is in 0...1 (1 = best); `total` is the sum of the terms times the weights in
/// the explanation. An explanation keeps one breakdown per scored candidate per decision
/// (millions in a large plan), so the terms are stored as 16-bit fixed point (a resolution
/// of 1/65535, far finer than any explanation prints) and the whole breakdown takes 24 bytes.
public struct ScoreBreakdown: Sendable, Hashable {
    private var capacityBits: UInt16
    private var loadBits: UInt16
    private var distanceBits: UInt16
    private var costBits: UInt16
    private var speedTradeBits: UInt16
    private var spreadBits: UInt16
    private var preferenceBits: UInt16
    public private(set) var total: Float
    private var distanceKmValue: Float

    public init(
        capacity: Double, load: Double, distance: Double, cost: Double, speedTrade: Double, spread: Double,
        preference: Double, total: Double, distanceKm: Double
    ) {
        capacityBits = Self.bits(capacity)
        loadBits = Self.bits(load)
        distanceBits = Self.bits(distance)
        costBits = Self.bits(cost)
        speedTradeBits = Self.bits(speedTrade)
        spreadBits = Self.bits(spread)
        preferenceBits = Self.bits(preference)
        self.total = Float(total)
        distanceKmValue = Float(distanceKm)
    }

    /// Free capacity left after placing (the scarcest resource), 0...1.
    public var capacity: Double { Self.value(capacityBits) }
    /// `1 - load`.
    public var load: Double { Self.value(loadBits) }
    /// Closeness to the served servers.
    public var distance: Double { Self.value(distanceBits) }
    /// Cheapness.
    public var cost: Double { Self.value(costBits) }
    /// The task's expected speed `s` there as `s / (1 + s)`.
    public var speedTrade: Double { Self.value(speedTradeBits) }
    /// Fewer members of the same cluster on the host.
    public var spread: Double { Self.value(spreadBits) }
    /// 1 on a preferred host.
    public var preference: Double { Self.value(preferenceBits) }
    /// Mean distance to the served servers in km; NaN when the task serves none listed.
    public var distanceKm: Double { Double(distanceKmValue) }
    /// The task's expected speed on this host relative to an idle TMS host (1 = same),
    /// recovered from the speed term.
    public var relativeSpeed: Double {
        let t = speedTrade
        return t < 1 ? t / (1 - t) : .infinity
    }

    private static func bits(_ term: Double) -> UInt16 {
        guard term.isFinite else { return 0 }
        return UInt16((min(1, max(0, term)) * 65535).rounded())
    }

    private static func value(_ bits: UInt16) -> Double {
        Double(bits) / 65535
    }

    // NaN != NaN would make equal breakdowns unequal; compare the distance bit for bit.
    public static func == (a: ScoreBreakdown, b: ScoreBreakdown) -> Bool {
        a.capacityBits == b.capacityBits && a.loadBits == b.loadBits && a.distanceBits == b.distanceBits
            && a.costBits == b.costBits && a.speedTradeBits == b.speedTradeBits && a.spreadBits == b.spreadBits
            && a.preferenceBits == b.preferenceBits && a.total == b.total
            && a.distanceKmValue.bitPattern == b.distanceKmValue.bitPattern
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(total)
        hasher.combine(capacityBits)
        hasher.combine(distanceKmValue.bitPattern)
    }
}
