import Testing
@testable import Planning

/// Inputs at the edges of what the policy reader accepts: resources other parts know,
/// numbers too large to compute with, documents too deep to parse.
@Suite("PolicyReader inputs")
struct PolicyReaderInputTests {
    static func diagnostics(_ yaml: String) -> [PolicyDiagnostic] {
        PolicyLoader.validate([PolicyFile(path: "p.yaml", text: yaml)], context: .none)
    }

    static func task(_ extra: String) -> String {
        "tasks:\n  t:\n    image: i\n    tier: x\n    maxCVMs: 1\n    \(extra)\n"
    }

    @Test("thresholds take the planner's resources only, not the traffic manager's own")
    func thresholdResources() {
        let d = Self.diagnostics(Self.task("thresholds: {spillsPerSecond: 5, connections: 3}"))
        let unknown = d.filter { $0.kind == .unknownKey }
        #expect(unknown.map(\.key) == ["tasks.t.thresholds.spillsPerSecond"])
        #expect(unknown.first?.message
            == "unknown key 'spillsPerSecond' (allowed: cpuPercent, memoryMiB, connections, bytesPerSecond, diskBytesPerSecond)")
    }
}
