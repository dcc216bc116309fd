import Testing
@testable import TrafficManager

@Suite struct ReloadSummaryTests {
    static func vServer(_ name: String, capacity: Int = 1, monitor: String? = nil) -> VServerConfig {
        VServerConfig(name: name, bind: nil, services: [ServiceConfig(name: "s", address: HostPort(host: "127.0.0.1", port: 1), capacity: capacity)],
                      monitor: monitor)
    }

    @Test func diff() {
        let old = TMSConfig(monitors: [MonitorConfig(name: "m")],
                            vServers: [Self.vServer("same"), Self.vServer("grows"), Self.vServer("gone"), Self.vServer("watched", monitor: "m")])
        let new = TMSConfig(monitors: [MonitorConfig(name: "m", interval: .seconds(1))],
                            vServers: [Self.vServer("same"), Self.vServer("grows", capacity: 2), Self.vServer("fresh"), Self.vServer("watched", monitor: "m")])
        let summary = ReloadSummary.diff(from: old, to: new, generation: 4)
        #expect(summary.generation == 4)
        #expect(summary.added == ["fresh"])
        #expect(summary.changed == ["grows", "watched"], "a changed monitor changes the vServers that use it")
        #expect(summary.removed == ["gone"])
        #expect(summary.unchanged == ["same"])
        #expect(ReloadSummary.diff(from: nil, to: new, generation: 1).added == ["same", "grows", "fresh", "watched"])
    }
}
