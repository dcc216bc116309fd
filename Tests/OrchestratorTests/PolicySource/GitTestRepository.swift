@testable import Planning
import Foundation
@testable import Orchestrator

/// A real git repository in a temporary directory, for tests of reading policies from git.
struct GitTestRepository {
    let path: String

    init() throws {
        path = try Fixtures.temporaryDirectory()
        try git("init", "-q", "-b", "main")
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    var repository: PolicyRepository { PolicyRepository(directory: path) }

    /// Runs git in the repository with a fixed identity; returns stdout without the newline.
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
        guard p.terminationStatus == 0 else { throw GitTestError.failed(arguments.joined(separator: " ")) }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes `files` (path relative to the repository → text), commits them and returns the commit id.
    @discardableResult
    func commit(_ files: [String: String], message: String = "change") throws -> String {
        for (relative, text) in files {
            let full = path + "/" + relative
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: true, encoding: .utf8)
        }
        try git("add", "-A")
        try git("commit", "-q", "--allow-empty", "-m", message)
        return try git("rev-parse", "HEAD")
    }

    /// A policy with one local-only tier and task `task` (max `maxCVMs`).
    static func policy(task: String = "health-monitor", maxCVMs: Int = 1, interval: Double = 0.5) -> String {
        """
        clouds:
          here: {trust: local, hosts: [local]}
        tiers:
          near: {security: local-only, allowedClouds: [here]}
        tasks:
          \(task):
            image: cvm-base
            tier: near
            thresholds: {cpuPercent: 50}
            maxCVMs: \(maxCVMs)
        elastic:
          intervalSeconds: \(interval)
          cooldownSeconds: 2
          forecast: {windowSeconds: 10, horizonSeconds: 1}

        """
    }

    /// `policy(...)` with `minCVMs: 2` above `maxCVMs: 1` (the value on line 11, column 14).
    static let invalidPolicy = policy().replacingOccurrences(of: "    maxCVMs: 1", with: "    maxCVMs: 1\n    minCVMs: 2")
}

enum GitTestError: Error { case failed(String) }

/// The project's image catalog (`images/`), found from this file.
enum TestCatalog {
    static var imagesDirectory: String {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("images/cvm-base/manifest.yaml")
            if FileManager.default.fileExists(atPath: candidate.path) { return dir.appendingPathComponent("images").path }
            dir = dir.deletingLastPathComponent()
        }
        return "images"
    }

    static let context = PolicyContext(
        images: [ImageProfile(name: "cvm-base", hypervisors: .all, defaultVCPUs: 1, defaultMemoryMiB: 128,
                              tasks: ["health-monitor", "log-collector"])],
        knownHosts: ["local"])
}
