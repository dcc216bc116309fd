/// One measurement of one resource: the value observed at `time`.
///
/// `time` is in seconds on whichever clock the caller uses (wall or monotonic), as long as one
/// series is always fed from the same clock. Values are rates or levels (CPU percent,
/// connections, bytes per second), never cumulative counters.
public struct UsageSample: Sendable, Hashable, Codable {
    public var time: Double
    public var value: Double

    public init(time: Double, value: Double) {
        self.time = time
        self.value = value
    }
}
