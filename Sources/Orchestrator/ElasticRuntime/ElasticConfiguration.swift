/// How `cvmctl elastic run` runs. Pacing (interval, cooldown, hysteresis, concurrency) is not
/// here: it comes from the policy's `elastic:` section, commit by commit.
public struct ElasticConfiguration: Sendable {
    /// Where the TMS task usage comes from (CVM heartbeats are always read from the store).
    public var usageSources: [any UsageSource]
    /// Journal what would be done and do nothing.
    public var recommendOnly: Bool
    /// One evaluation, carry its actions out, stop.
    public var once: Bool
    /// How long a decommission waits for the agent to power the CVM off.
    public var decommissionGrace: Duration
    /// How long a decommission waits for a serving CVM's open connections to end.
    public var drainTimeout: Duration

    public init(usageSources: [any UsageSource] = [], recommendOnly: Bool = false, once: Bool = false,
                decommissionGrace: Duration = .seconds(10), drainTimeout: Duration = .seconds(30)) {
        self.drainTimeout = drainTimeout
        self.usageSources = usageSources
        self.recommendOnly = recommendOnly
        self.once = once
        self.decommissionGrace = decommissionGrace
    }

    /// `act` or `recommend-only`, for the journal.
    public var mode: String { recommendOnly ? "recommend-only" : "act" }
}
