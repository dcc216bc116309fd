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
            == "unknown key 'spillsPerSecond' (allowed: cpuPercent, memoryMiB, connections, bytesPerSecond, diskBytesPerSecond, connectionsPerSecond)")
    }

    @Test("offloadWhen names planned resources; anything else is one diagnostic naming the list")
    func offloadWhenResources() {
        let good = Self.diagnostics(Self.task("offloadWhen: [cpuPercent, diskBytesPerSecond]"))
        #expect(!good.contains { $0.key.hasPrefix("tasks.t.offloadWhen") })
        let bad = Self.diagnostics(Self.task("offloadWhen: [cpuPercent, gpuPercent]")).filter { $0.key.hasPrefix("tasks.t.offloadWhen") }
        #expect(bad.count == 1 && bad.first?.key == "tasks.t.offloadWhen[1]", "\(bad)")
        #expect(bad.first?.message.contains("'gpuPercent' is not a resource") == true)
    }

    @Test("integers too large to compute with are range errors, in any YAML form, never a trap", arguments: [
        ("maxCVMs: 9223372036854775807", "9223372036854775807 is out of range 1...1000000000"),
        ("maxCVMs: 99999999999999999999", "99999999999999999999 is out of range 1...1000000000"),
        ("maxCVMs: 1:0:0:0:0:0:0:0:0:0:0:0", "1:0:0:0:0:0:0:0:0:0:0:0 is out of range 1...1000000000"),
        ("maxCVMs: 0x7fffffffffffffff", "0x7fffffffffffffff is out of range 1...1000000000"),
        ("memoryMiB: 1_000_000_001", "1_000_000_001 is out of range 1...1000000000"),
        ("maxCVMs: 0", "0 is out of range >= 1"),
    ])
    func hugeIntegers(line: String, message: String) {
        let maxCVMs = line.hasPrefix("maxCVMs") ? "" : "    maxCVMs: 1\n"
        let d = Self.diagnostics("tasks:\n  t:\n    image: i\n    tier: x\n    vcpus: 1\n\(maxCVMs)    \(line)\n")
        let invalid = d.filter { $0.kind == .invalidValue }
        #expect(invalid.map(\.message) == [message], "\(d)")
        #expect(invalid.first?.location.line == (maxCVMs.isEmpty ? 6 : 7))
    }

    @Test("YAML 1.1 integers read as before: 1:30 is 90, 0x10 is 16, 010 is 8")
    func integerForms() throws {
        for (text, value) in [("1:30", 90), ("0x10", 16), ("010", 8), ("1_000", 1_000)] {
            let policy = try PolicyLoader.load([PolicyFile(path: "p.yaml", text: """
                tiers: { t: { security: local-only, allowedHosts: [local] } }
                clouds: { c: { trust: local, hosts: [local] } }
                tasks: { web: { image: i, tier: t, maxCVMs: \(text), vcpus: 1, memoryMiB: 64 } }
                """)])
            #expect(policy.tasks["web"]?.maxCVMs == value)
        }
    }

    @Test("a document nested 5,000 deep is one syntax diagnostic at the level past 64, and the other files are still read")
    func deepDocument() {
        for text in [String(repeating: "[", count: 5_000), String(repeating: "- ", count: 5_000) + "x",
                     "tasks:\n" + String(repeating: "{a: ", count: 5_000)] {
            let d = PolicyLoader.validate([
                PolicyFile(path: "deep.yaml", text: text),
                PolicyFile(path: "other.yaml", text: "tiers:\n  gold: {colour: red}\n"),
            ], context: .none)
            let deep = d.filter { $0.location.file == "deep.yaml" }
            #expect(deep.count == 1)
            #expect(deep.first?.kind == .syntax)
            #expect(deep.first?.message == "nested more than 64 levels deep")
            #expect(deep.first?.location.line == (text.hasPrefix("tasks") ? 2 : 1))
            #expect(d.contains { $0.location.file == "other.yaml" && $0.kind == .unknownKey })
        }
    }
}
