import Foundation
@testable import Orchestrator
import Testing

@Suite("UsageFileSource (the synthetic TMS usage input)")
struct UsageFileSourceTests {
    @Test("the last line of each task is its current usage")
    func lastLineWins() throws {
        let text = """
        # synthetic usage
        {"time": 100, "task": "health-monitor", "cpuPercent": 10}
        {"task": "log-collector", "bytesPerSecond": 5e6, "diskBytesPerSecond": 1000}

        {"time": 101.5, "task": "health-monitor", "cpuPercent": 85, "connections": 1200}

        """
        let readings = try UsageFileSource.parse(text, path: "u.jsonl")
        #expect(readings == [
            TaskUsageReading(task: "health-monitor", time: 101.5, values: [.cpuPercent: 85, .connections: 1200]),
            TaskUsageReading(task: "log-collector", time: nil, values: [.bytesPerSecond: 5e6, .diskBytesPerSecond: 1000]),
        ])
    }

    @Test("a last line still being written is skipped; the same line complete is an error")
    func partialLastLine() throws {
        let partial = "{\"task\": \"a\", \"cpuPercent\": 10}\n{\"task\": \"a\", \"cpuPer"
        #expect(try UsageFileSource.parse(partial, path: "u") == [TaskUsageReading(task: "a", values: [.cpuPercent: 10])])
        #expect(throws: UsageSourceError.invalidLine(path: "u", line: 2, message: "not a JSON object of strings and numbers")) {
            try UsageFileSource.parse(partial + "\n", path: "u")
        }
    }

    @Test("bad lines are errors naming file and line", arguments: [
        (#"{"cpuPercent": 1}"#, "'task' must be a non-empty string"),
        (#"{"task": "a", "cpu": 1}"#, "unknown key 'cpu' (allowed: time, task, cpuPercent, memoryMiB, connections, bytesPerSecond, diskBytesPerSecond, connectionsPerSecond)"),
        (#"{"task": "a", "cpuPercent": -1}"#, "'cpuPercent' must be a number >= 0"),
        (#"{"task": "a", "cpuPercent": "80"}"#, "'cpuPercent' must be a number >= 0"),
        (#"{"task": "a", "connections": true}"#, "'connections' must be a number >= 0"),
        (#"{"task": "a", "time": "now"}"#, "'time' must be a number"),
        (#"["task", "a"]"#, "not a JSON object of strings and numbers"),
    ])
    func badLines(line: String, message: String) {
        let text = "{\"task\": \"ok\"}\n" + line + "\n"
        #expect(throws: UsageSourceError.invalidLine(path: "/tmp/u.jsonl", line: 2, message: message)) {
            try UsageFileSource.parse(text, path: "/tmp/u.jsonl")
        }
        #expect(UsageSourceError.invalidLine(path: "/tmp/u.jsonl", line: 2, message: message).description == "/tmp/u.jsonl:2: \(message)")
    }

    @Test("the file is re-read at every call; a missing file is an error that says so")
    func rereads() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/usage.jsonl"
        let source = UsageFileSource(path: path)
        await #expect(throws: UsageSourceError.self) { try await source.read() }
        try "{\"task\": \"a\", \"cpuPercent\": 10}\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try await source.read().first?.values[.cpuPercent] == 10)
        try "{\"task\": \"a\", \"cpuPercent\": 90}\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try await source.read().first?.values[.cpuPercent] == 90)
    }
}
