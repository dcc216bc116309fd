/// The running average of a service's probe response times (an exponential moving average
/// spanning about `span` probes), and the verdict on a new response time against a fixed
/// limit and against that average. Pure state.
public struct ResponseTimeAverage: Sendable, Hashable {
    public let span: Int
    /// Seconds; `nil` until the first response.
    public private(set) var average: Double?
    public private(set) var samples = 0

    /// Responses needed before the deviation check applies (an average of one or two probes
    /// says little).
    public static let warmUp = 3

    public init(span: Int) {
        precondition(span >= 1, "span is at least 1")
        self.span = span
    }

    /// Folds a response time (seconds) into the average.
    public mutating func add(_ seconds: Double) {
        guard seconds.isFinite, seconds >= 0 else { return }
        samples += 1
        // Until `span` samples exist this is the plain mean; then the usual 2 / (span + 1).
        let weight = samples <= span ? 1.0 / Double(samples) : 2.0 / Double(span + 1)
        average = average.map { $0 + weight * (seconds - $0) } ?? seconds
    }

    /// Whether `seconds` is slower than the average by more than `percent` percent
    /// (always false during warm-up).
    public func deviates(_ seconds: Double, byMoreThan percent: Int) -> Bool {
        guard let average, samples >= Self.warmUp else { return false }
        return seconds > average * (1 + Double(percent) / 100)
    }

    /// Takes over another monitor's average (handing monitoring over between two processes).
    public mutating func adopt(average: Double?, samples: Int) {
        guard let average, average.isFinite, average >= 0, samples >= 0 else { return }
        self.average = average
        self.samples = samples
    }
}
