import Planning
import Foundation

/// TMS task usage from a file of JSON lines, re-read at every evaluation: the synthetic
/// input for tests, benchmarks and demos until the traffic manager's usage endpoint exists.
///
/// Each line is one object: `task` (string, required), `time` (seconds since 1970,
/// optional, informational) and any of the resources `cpuPercent`, `memoryMiB`,
/// `connections`, `bytesPerSecond`, `diskBytesPerSecond` (numbers >= 0):
///
///     {"time": 1718000000, "task": "health-monitor", "cpuPercent": 85, "connections": 1200}
///
/// The last line of a task is its current usage (append a line per change, or rewrite the
/// file). Blank lines and lines starting with `#` are skipped. A last line without its
/// newline is being written and is skipped while it does not parse. Any other bad line is
/// an error naming `file:line` (the evaluation then goes on without TMS usage).
public struct UsageFileSource: UsageSource {
    public var path: String

    public init(path: String) {
        self.path = path
    }

    public var description: String { "usage file \(path)" }

    public func read() async throws -> [TaskUsageReading] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw UsageSourceError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        return try Self.parse(String(decoding: data, as: UTF8.self), path: path)
    }

    static let keys = ["time", "task"] + UsageResource.planned.map(\.rawValue)

    /// The latest reading per task in `text`, by task name.
    public static func parse(_ text: String, path: String) throws(UsageSourceError) -> [TaskUsageReading] {
        var latest: [String: TaskUsageReading] = [:]
        let complete = text.hasSuffix("\n")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, raw) in lines.enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let isPartial = !complete && index == lines.count - 1
            do throws(UsageSourceError) {
                let reading = try reading(from: line, path: path, line: index + 1)
                latest[reading.task] = reading
            } catch {
                if isPartial { continue }
                throw error
            }
        }
        return latest.keys.sorted().map { latest[$0]! }
    }

    private static func reading(from line: String, path: String, line number: Int) throws(UsageSourceError) -> TaskUsageReading {
        func bad(_ message: String) -> UsageSourceError { .invalidLine(path: path, line: number, message: message) }
        guard let object = try? JSONDecoder().decode([String: JSONScalar].self, from: Data(line.utf8)) else {
            throw bad("not a JSON object of strings and numbers")
        }
        for key in object.keys.sorted() where !keys.contains(key) {
            throw bad("unknown key '\(key)' (allowed: \(keys.joined(separator: ", ")))")
        }
        guard case let .string(task)? = object["task"], !task.isEmpty else { throw bad("'task' must be a non-empty string") }
        var time: Double?
        if let value = object["time"] {
            guard case let .number(seconds) = value, seconds.isFinite else { throw bad("'time' must be a number") }
            time = seconds
        }
        var values: [UsageResource: Double] = [:]
        for resource in UsageResource.planned {
            guard let value = object[resource.rawValue] else { continue }
            guard case let .number(amount) = value, amount.isFinite, amount >= 0 else {
                throw bad("'\(resource.rawValue)' must be a number >= 0")
            }
            values[resource] = amount
        }
        return TaskUsageReading(task: task, time: time, values: values)
    }
}

/// One value of a usage line: a number, a string, or anything else (reported as wrong).
enum JSONScalar: Decodable, Sendable {
    case number(Double)
    case string(String)
    case other

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if (try? container.decode(Bool.self)) != nil {
            self = .other
        } else if let number = try? container.decode(Double.self) {
            self = .number(number)
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else {
            self = .other
        }
    }
}

/// A usage source that could not be read.
public enum UsageSourceError: Error, Sendable, Hashable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case invalidLine(path: String, line: Int, message: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "cannot read usage file \(path): \(reason)"
        case let .invalidLine(path, line, message):
            return "\(path):\(line): \(message)"
        }
    }
}
