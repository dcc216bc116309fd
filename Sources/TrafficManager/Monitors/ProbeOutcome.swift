/// What one probe of a service found.
public enum ProbeOutcome: Sendable, Hashable {
    /// The service answered (connected; for HTTP: with this status) after `seconds`.
    case answered(seconds: Double, status: Int?)
    /// It did not: refused, reset, timed out, or the response could not be read.
    case failed(String)
}

/// The verdict on one probe.
public enum ProbeVerdict: Sendable, Hashable, CustomStringConvertible {
    case healthy
    case unreachable(String)
    case badStatus(Int)
    case slowerThanLimit(seconds: Double)
    case deviates(seconds: Double, average: Double)

    public var isHealthy: Bool { self == .healthy }

    public var description: String {
        switch self {
        case .healthy: return "healthy"
        case .unreachable(let why): return "unreachable: \(why)"
        case .badStatus(let status): return "status \(status)"
        case .slowerThanLimit(let seconds): return "slow: \(Int(seconds * 1000)) ms over the limit"
        case .deviates(let seconds, let average):
            return "slow: \(Int(seconds * 1000)) ms against an average of \(Int(average * 1000)) ms"
        }
    }
}

/// A service's health as its monitor sees it: each probe's verdict (status, response-time
/// limit, deviation from the running average) and the up/down state with rise and fall.
/// Pure state, tested without I/O.
public struct ServiceHealth: Sendable, Hashable {
    public let config: MonitorConfig
    public private(set) var state: RiseFall
    public private(set) var timing: ResponseTimeAverage
    public private(set) var lastVerdict: ProbeVerdict?
    public private(set) var lastResponseSeconds: Double?

    public init(config: MonitorConfig, isUp: Bool = true) {
        self.config = config
        state = RiseFall(rise: config.rise, fall: config.fall, isUp: isUp)
        timing = ResponseTimeAverage(span: config.averageSpan)
    }

    public var isUp: Bool { state.isUp }

    /// Takes over the state another monitor of the same service reached (offloaded
    /// monitoring): up/down (the streak restarts), the average and the last response.
    public mutating func adopt(isUp: Bool, average: Double?, samples: Int, lastResponseSeconds: Double?) {
        state = RiseFall(rise: config.rise, fall: config.fall, isUp: isUp)
        timing.adopt(average: average, samples: samples)
        if let lastResponseSeconds, lastResponseSeconds.isFinite, lastResponseSeconds >= 0 {
            self.lastResponseSeconds = lastResponseSeconds
        }
    }

    /// Judges one probe; returns the verdict and, when the service flips, its new state.
    public mutating func record(_ outcome: ProbeOutcome) -> (verdict: ProbeVerdict, flip: Bool?) {
        let verdict = judge(outcome)
        if case .answered(let seconds, _) = outcome {
            lastResponseSeconds = seconds
            // Normal and merely deviating times feed the average (so it follows a lasting
            // change); wrong answers and times over the hard limit do not.
            switch verdict {
            case .healthy, .deviates: timing.add(seconds)
            default: break
            }
        }
        lastVerdict = verdict
        return (verdict, state.record(success: verdict.isHealthy))
    }

    private func judge(_ outcome: ProbeOutcome) -> ProbeVerdict {
        switch outcome {
        case .failed(let why):
            return .unreachable(why)
        case .answered(let seconds, let status):
            if case .http(_, let expect) = config.kind {
                guard let status, expect.contains(status) else { return .badStatus(status ?? 0) }
            }
            if let limit = config.responseTimeLimit, seconds > limit.seconds {
                return .slowerThanLimit(seconds: seconds)
            }
            if let percent = config.deviationPercent, timing.deviates(seconds, byMoreThan: percent) {
                return .deviates(seconds: seconds, average: timing.average ?? 0)
            }
            return .healthy
        }
    }
}
