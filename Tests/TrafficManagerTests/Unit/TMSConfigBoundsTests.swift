import Foundation
import Testing
import TMSCore
@testable import TrafficManager

/// What the configuration reader refuses before it can hurt: numbers beyond what the quota
/// computes with, files too deep or too large to parse.
@Suite struct TMSConfigBoundsTests {
    static func vServer(_ spillover: String) -> String {
        "vServers:\n  - name: a\n    services: [{ address: 127.0.0.1, port: 9000, capacity: 10 }]\n    spillover: { \(spillover) }\n"
    }

    @Test("numbers too large are range errors at the number", arguments: [
        (vServer("kind: connection, limit: 9223372036854775807"), "vServers[0].spillover.limit",
         "9223372036854775807 is out of range 0...\(VServerQuota.maximumLimit)"),
        (vServer("kind: connection, limit: 99999999999999999999"), "vServers[0].spillover.limit",
         "99999999999999999999 is out of range 0...\(VServerQuota.maximumLimit)"),
        (vServer("t1: 9223372036854775807"), "vServers[0].spillover.t1",
         "9223372036854775807 is out of range 0...\(VServerQuota.maximumLimit)"),
        (vServer("t2: 99999999999999999999"), "vServers[0].spillover.t2",
         "99999999999999999999 is out of range 0...\(VServerQuota.maximumLimit)"),
        ("cores: 9223372036854775808\n" + vServer("t1: 1"), "cores", "9223372036854775808 is out of range 1...1024"),
    ])
    func hugeNumbers(yaml: String, key: String, problem: String) throws {
        let error = try #require(throws: ConfigError.self) { try TMSConfig.parse(yaml, file: "c.yaml") }
        #expect(error.key == key)
        #expect(error.problem == problem)
        #expect(error.line == (key == "cores" ? 1 : 4))
    }

    @Test("a threshold within the limit's range is still read")
    func largeThreshold() throws {
        let config = try TMSConfig.parse(Self.vServer("t1: \(VServerQuota.maximumLimit), t2: 7"), file: "c.yaml")
        #expect(config.vServers.first?.spillover.t1 == .absolute(VServerQuota.maximumLimit))
        #expect(config.vServers.first?.spillover.t2 == .absolute(7))
    }

    @Test("a file nested 5,000 levels deep, or over 1 MiB, is refused unparsed")
    func deepAndLarge() throws {
        let deep = "vServers: " + String(repeating: "[", count: 5_000)
        let error = try #require(throws: ConfigError.self) { try TMSConfig.parse(deep, file: "deep.yaml") }
        #expect(error.description == "deep.yaml:1:\(11 + 63): -: nested more than 64 levels deep")
        let large = Self.vServer("t1: 1") + "# " + String(repeating: "x", count: 1 << 20)
        let refused = try #require(throws: ConfigError.self) { try TMSConfig.parse(large, file: "large.yaml") }
        #expect(refused.description == "large.yaml:1:1: -: larger than 1 MiB, the most a configuration file may hold")
    }
}
