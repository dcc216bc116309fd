/// The outcome of replaying a trace: what the real pool code did, per core and in total.
public struct SimulationReport: Sendable, Hashable, Codable {
    public struct Core: Sendable, Hashable, Codable {
        public var core: Int
        /// Connections admitted (including queued ones admitted later).
        public var admitted: Int
        public var borrowedBatches: Int
        /// Sent to the backup vServer by the spillover rule.
        public var spilled: Int
        /// Put in the wait queue.
        public var queued: Int
        /// Refused (no quota and no room to wait; or the wait timed out).
        public var refused: Int
        /// Of the queued: served later / timed out.
        public var servedFromQueue: Int
        public var expired: Int
    }

    public var sizing: PoolSizing
    public var cores: [Core]
    /// The largest number of connections in use at once over all cores.
    public var peakInUse: Int
    /// When that peak was first reached, in seconds since the trace's start.
    public var peakTimeSeconds: Double
    public var events: Int
    /// Connections still open / still waiting after the last event.
    public var openAtEnd: Int
    public var waitingAtEnd: Int

    public var total: Core {
        cores.reduce(Core(core: -1, admitted: 0, borrowedBatches: 0, spilled: 0, queued: 0, refused: 0,
                          servedFromQueue: 0, expired: 0)) { sum, core in
            Core(core: -1, admitted: sum.admitted + core.admitted,
                 borrowedBatches: sum.borrowedBatches + core.borrowedBatches,
                 spilled: sum.spilled + core.spilled, queued: sum.queued + core.queued,
                 refused: sum.refused + core.refused, servedFromQueue: sum.servedFromQueue + core.servedFromQueue,
                 expired: sum.expired + core.expired)
        }
    }
}
