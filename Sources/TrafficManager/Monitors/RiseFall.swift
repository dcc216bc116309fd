/// Up/down with hysteresis: `fall` consecutive failures take an up service down, `rise`
/// consecutive successes bring a down service up. Pure state.
public struct RiseFall: Sendable, Hashable {
    public let rise: Int
    public let fall: Int
    public private(set) var isUp: Bool
    /// Consecutive results against the current state.
    public private(set) var streak = 0

    public init(rise: Int, fall: Int, isUp: Bool = true) {
        precondition(rise >= 1 && fall >= 1, "rise and fall are at least 1")
        self.rise = rise
        self.fall = fall
        self.isUp = isUp
    }

    /// Records one probe result; returns the new state when it flips, else `nil`.
    public mutating func record(success: Bool) -> Bool? {
        guard success != isUp else {
            streak = 0
            return nil
        }
        streak += 1
        guard streak >= (isUp ? fall : rise) else { return nil }
        isUp.toggle()
        streak = 0
        return isUp
    }
}
