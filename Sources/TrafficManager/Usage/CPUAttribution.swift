/// Splits the CPU time each event loop's thread used over an interval among the tasks that
/// ran on it, in proportion to the time each spent in its handlers on that loop. Time a loop
/// spent outside handlers (accepting, polling) is thereby charged to the tasks it served;
/// a loop where no handler ran charges nobody. Pure.
enum CPUAttribution {
    /// One task's handler time on one loop over the interval.
    struct Busy: Hashable {
        var task: String
        var loop: Int
        var nanos: Double
    }

    /// - Parameters:
    ///   - threadNanos: CPU time each loop's thread used over the interval, by loop.
    ///   - busy: handler time per task and loop over the interval.
    /// - Returns: CPU nanoseconds per task (every task of `busy` appears, possibly with 0).
    static func attribute(threadNanos: [Int: Double], busy: [Busy]) -> [String: Double] {
        var perLoop: [Int: Double] = [:]
        for entry in busy { perLoop[entry.loop, default: 0] += max(0, entry.nanos) }
        var result: [String: Double] = [:]
        for entry in busy {
            let total = perLoop[entry.loop] ?? 0
            let share = total > 0 ? max(0, entry.nanos) / total : 0
            result[entry.task, default: 0] += share * max(0, threadNanos[entry.loop] ?? 0)
        }
        return result
    }
}
