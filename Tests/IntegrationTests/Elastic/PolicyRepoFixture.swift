import Foundation
import Orchestrator

/// A real git repository holding `policies/`, for driving `cvmctl policy` and `cvmctl elastic`.
struct PolicyRepoFixture {
    let path: String

    init(in directory: String) throws {
        path = directory
        try FileManager.default.createDirectory(atPath: path + "/policies", withIntermediateDirectories: true)
        try git("init", "-q", "-b", "main")
    }

    @discardableResult
    func git(_ arguments: String...) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", path, "-c", "user.name=Test", "-c", "user.email=test@example.invalid",
                       "-c", "commit.gpgsign=false"] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw HarnessError.failed("git \(arguments.joined(separator: " "))") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Commits `text` as `policies/policy.yaml` and returns the commit id.
    @discardableResult
    func commit(_ text: String, message: String) throws -> String {
        try text.write(toFile: path + "/policies/policy.yaml", atomically: true, encoding: .utf8)
        try git("add", "-A")
        try git("commit", "-q", "-m", message)
        return try git("rev-parse", "HEAD")
    }

    /// One local-only tier; task `task` on cvm-base with the given rule lines; fast pacing so a
    /// test sees scale-out and scale-in within seconds.
    static func policy(task: String = "health-monitor", rule: String) -> String {
        """
        clouds:
          here: {trust: local, hosts: [local]}
        tiers:
          near: {security: local-only, allowedClouds: [here]}
        tasks:
          \(task):
            image: cvm-base
            tier: near
        \(rule.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        elastic:
          intervalSeconds: 0.5
          cooldownSeconds: 2
          hysteresisPercent: 20
          maxConcurrentActions: 1
          forecast: {method: holt, alpha: 0.5, beta: 0.5, horizonSeconds: 1, windowSeconds: 10}

        """
    }
}

/// The synthetic TMS usage file elastic mode reads (`--usage-file`), rewritten atomically.
struct UsageFile {
    let path: String

    func write(task: String = "health-monitor", cpuPercent: Double) throws {
        let line = "{\"time\": \(Date().timeIntervalSince1970), \"task\": \"\(task)\", \"cpuPercent\": \(cpuPercent)}\n"
        try line.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

extension CLIHarness {
    /// The journal, straight from the store.
    func events() throws -> [EventRecord] {
        try Store(directory: state).events(after: 0, limit: Int.max)
    }
}

extension CLIHarness {
    /// Starts `cvmctl elastic run` (with its own heartbeat monitor) over a policy that never
    /// scales — one rule, `maxCVMs: 1`, usage at 5 % of a 50 % threshold — so what it does is
    /// heal clusters. Output discarded; the caller terminates it.
    /// Where `startQuietElastic` writes the elastic process's log (debug level): a failing
    /// test prints its tail.
    var elasticLog: String { state + "/elastic.log" }

    func elasticLogTail(lines: Int = 60) -> String {
        let text = (try? String(contentsOfFile: elasticLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    func startQuietElastic() throws -> Process {
        let repo = try PolicyRepoFixture(in: state + "/policy-repo")
        try repo.commit(PolicyRepoFixture.policy(rule: "thresholds: {cpuPercent: 50}\nmaxCVMs: 1"), message: "policy")
        let usage = UsageFile(path: state + "/usage.jsonl")
        try usage.write(cpuPercent: 5)
        let elastic = process(["elastic", "run", "--repo", repo.path, "--branch", "main", "--usage-file", usage.path, "-v"])
        _ = FileManager.default.createFile(atPath: elasticLog, contents: nil)
        elastic.standardOutput = FileHandle.nullDevice
        elastic.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: elasticLog))
        try elastic.run()
        return elastic
    }
}
