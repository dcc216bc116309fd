import Foundation

extension TMSConfig {
    /// The vServers offloaded to CVMs (those with a `cvm` key).
    public var cvmVServers: [VServerConfig] { vServers.filter { $0.cvm != nil } }

    /// This configuration as the traffic manager runs it: each CVM-served vServer's services
    /// are the CVMs serving it now (`endpoints[vServer]`, none until one serves: its
    /// connections then go down its backup chain), not the backends its CVMs forward to.
    public func withCVMServices(_ endpoints: [String: [ServiceConfig]]) -> TMSConfig {
        var copy = self
        for index in copy.vServers.indices where copy.vServers[index].cvm != nil {
            copy.vServers[index].services = endpoints[copy.vServers[index].name] ?? []
        }
        return copy
    }

    /// The configuration a CVM's data plane gets for `vServer` (sent over the signed agent
    /// channel by `serve`): one vServer listening on every address of the CVM at the backend's
    /// port, with the vServer's mode, balancing, timeouts and services; one core; no admin
    /// endpoint. Nil for a vServer without a `cvm` key.
    public static func cvmDataPlaneYAML(for vServer: VServerConfig) -> String? {
        guard let cvm = vServer.cvm else { return nil }
        func quoted(_ text: String) -> String {
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        func ms(_ duration: Duration) -> String {
            "\(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)ms"
        }
        var lines = [
            "cores: 1",
            "drainTimeout: 10s",
            "vServers:",
            "  - name: \(quoted(vServer.name))",
            "    bind: 0.0.0.0:\(cvm.port)",
            "    mode: \(vServer.mode.rawValue)",
            "    method: \(vServer.method.rawValue)",
            "    idleTimeout: \(ms(vServer.idleTimeout))",
            "    connectTimeout: \(ms(vServer.connectTimeout))",
            "    services:",
        ]
        for service in vServer.services {
            lines.append("      - { name: \(quoted(service.name)), address: \(quoted(service.address.description)), capacity: \(service.capacity), weight: \(service.weight) }")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
