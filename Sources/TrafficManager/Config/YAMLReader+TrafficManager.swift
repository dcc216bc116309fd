import ConfigFile
import TMSCore
import Yams

/// The values only the traffic manager's configuration has: durations, percentages and
/// spillover thresholds.
extension YAMLReader {
    /// A duration: `250ms`, `2s`, `1.5s`, `1m`, or a bare number of seconds.
    func duration(_ key: String, in range: ClosedRange<Duration>) throws(ConfigError) -> Duration {
        let node = try required(key)
        guard let text = node.scalar?.string, let duration = DurationText.parse(text) else {
            throw error(key, "expected a duration such as 250ms, 2s or 1m, found '\(node.scalar?.string ?? "a collection")'", at: node)
        }
        guard range.contains(duration) else {
            throw error(key, "\(DurationText.format(duration)) is out of range \(DurationText.format(range.lowerBound))...\(DurationText.format(range.upperBound))", at: node)
        }
        return duration
    }

    func optionalDuration(_ key: String, in range: ClosedRange<Duration>) throws(ConfigError) -> Duration? {
        has(key) ? try duration(key, in: range) : nil
    }

    /// A percentage: `80`, `12.5`, `80%` (0 to 100, at most two decimals).
    func percentage(_ key: String) throws(ConfigError) -> Percentage {
        let node = try required(key)
        guard let text = node.scalar?.string, let value = Percentage(parsing: text) else {
            throw error(key, "expected a percentage from 0 to 100 with at most 2 decimals, found '\(node.scalar?.string ?? "a collection")'", at: node)
        }
        return value
    }

    /// A threshold: an absolute number (`7`, at most the largest limit a vServer can have)
    /// or a percentage (`75%`).
    func threshold(_ key: String) throws(ConfigError) -> Threshold {
        let node = try required(key)
        guard let text = node.scalar?.string else { throw error(key, "expected a number or a percentage", at: node) }
        if text.hasSuffix("%") {
            guard let value = Percentage(parsing: text) else {
                throw error(key, "expected a percentage from 0% to 100% with at most 2 decimals, found '\(text)'", at: node)
            }
            return .percent(value)
        }
        switch YAMLInteger(decimal: text) {
        case let .value(number) where number >= 0 && number <= VServerQuota.maximumLimit:
            return .absolute(number)
        case let .value(number) where number < 0:
            throw error(key, "expected a number >= 0 or a percentage such as 80%, found '\(text)'", at: node)
        case .value, .outOfRange:
            throw error(key, "\(text) is out of range 0...\(VServerQuota.maximumLimit)", at: node)
        case .notAnInteger:
            throw error(key, "expected a number >= 0 or a percentage such as 80%, found '\(text)'", at: node)
        }
    }
}
