/// Deterministic synthetic usage: piecewise-linear shapes plus seeded noise.
struct SyntheticTrace: Sendable {
    /// (time, value) corners; linear between them, constant outside.
    var corners: [(Double, Double)]
    /// Relative noise amplitude: each sample is multiplied by 1 + U(−noise, +noise).
    var noise: Double = 0
    var seed: UInt64 = 1

    func value(at t: Double) -> Double {
        base(at: t) * (1 + noise * unitNoise(at: t))
    }

    func base(at t: Double) -> Double {
        guard let first = corners.first, let last = corners.last else { return 0 }
        if t <= first.0 { return first.1 }
        if t >= last.0 { return last.1 }
        let i = corners.lastIndex { $0.0 <= t }!
        let (t0, v0) = corners[i], (t1, v1) = corners[i + 1]
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    }

    /// U(−1, 1) from SplitMix64 of (seed, t): the same time always gives the same noise.
    func unitNoise(at t: Double) -> Double {
        var z = seed &+ UInt64(bitPattern: Int64(t * 1000)) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53) * 2 - 1
    }
}
