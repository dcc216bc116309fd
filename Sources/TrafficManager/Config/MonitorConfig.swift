/// A health monitor, run against every service of the vServers that name it.
public struct MonitorConfig: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// Up when a TCP connection opens.
        case tcp
        /// Up when `GET path` answers a status in `expect`.
        case http(path: String, expect: ClosedRange<Int>)
    }

    public var name: String
    public var kind: Kind
    public var interval: Duration
    /// A probe not finished within this is a failure.
    public var timeout: Duration
    /// Consecutive successes that bring a down service up.
    public var rise: Int
    /// Consecutive failures that take an up service down.
    public var fall: Int
    /// A probe slower than this is a failure.
    public var responseTimeLimit: Duration?
    /// A probe slower than the running average by more than this many percent (150 = 2.5
    /// times the average) is a failure.
    public var deviationPercent: Int?
    /// Probe times averaged into the running average (an exponential average with this span).
    public var averageSpan: Int
    /// The policy task the usage monitors report this monitor under: by default
    /// `monitoring.cvm.task`, else `health-monitor` (the task that takes the monitors over
    /// when offloaded, so elastic mode judges them where they run).
    public var task: String

    public init(name: String, kind: Kind = .tcp, interval: Duration = .seconds(5), timeout: Duration = .seconds(2),
                rise: Int = 2, fall: Int = 3, responseTimeLimit: Duration? = nil, deviationPercent: Int? = nil,
                averageSpan: Int = 10, task: String? = nil) {
        self.name = name
        self.kind = kind
        self.interval = interval
        self.timeout = timeout
        self.rise = rise
        self.fall = fall
        self.responseTimeLimit = responseTimeLimit
        self.deviationPercent = deviationPercent
        self.averageSpan = averageSpan
        self.task = task ?? "health-monitor"
    }
}
