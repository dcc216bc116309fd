/// The trade between a faster (or less loaded) CPU and the latency a task's I/O pays to reach
/// the TMS from a remote host.
public enum SpeedTrade {
    /// The task's expected speed on a host relative to an idle TMS host (1 = same; 2 = twice
    /// as fast).
    ///
    /// Time per unit of work = `cpuShare / (cpuSpeed × (1 − load)) + ioShare × (1 + latency / scale)`:
    /// the CPU-bound share runs at the host's speed left over by its load, and every I/O
    /// round trip to the TMS takes `latency` more (`scale` is the latency that doubles the I/O
    /// time). Load is capped at 95 % so a saturated host is very slow rather than infinitely so.
    public static func relativeSpeed(
        profile: UsageProfile, cpuSpeed: Double, load: Double, latencyMs: Double, ioLatencyScaleMs: Double
    ) -> Double {
        let spare = 1 - min(0.95, max(0, load))
        let effective = max(0.01, cpuSpeed) * spare
        let time = profile.cpuShare / effective + profile.ioShare * (1 + max(0, latencyMs) / max(1e-9, ioLatencyScaleMs))
        return 1 / time
    }

    /// The same for a host snapshot.
    public static func relativeSpeed(of host: HostSnapshot, profile: UsageProfile, weights: PlacementWeights) -> Double {
        relativeSpeed(profile: profile, cpuSpeed: host.cpuSpeed, load: host.load, latencyMs: host.latencyMs,
                      ioLatencyScaleMs: weights.ioLatencyScaleMs)
    }
}
