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
    ///
    /// With `tls` (a CVM on a host of trust `public`): the CVM's listener speaks only mutual
    /// TLS, and it reaches each service through the traffic manager's return relay for it
    /// (`tls.gateway`, port `returnPort + index`; see ``withCVMReturnRelays(for:gateway:tls:)``),
    /// over mutual TLS too: nothing it carries crosses the segment in plaintext.
    public static func cvmDataPlaneYAML(for vServer: VServerConfig, tls: CVMGuestTLS? = nil) -> String? {
        guard let cvm = vServer.cvm else { return nil }
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
        ]
        if vServer.routing == .request {
            lines += ["    routing: request", "    quotaCounts: \(vServer.quotaCounts.rawValue)"]
            if let tunnel = vServer.tunnelTimeout { lines.append("    tunnelTimeout: \(ms(tunnel))") }
        }
        let tlsValue = tls?.yaml
        if let tlsValue { lines.append("    tls: \(tlsValue)") }
        lines.append("    services:")
        for (index, service) in vServer.services.enumerated() {
            if let tls, let tlsValue {
                let relay = HostPort(host: tls.gateway, port: cvm.returnPort + index)
                lines.append("      - { name: \(quoted(service.name)), address: \(quoted(relay.description)), capacity: \(service.capacity), weight: \(service.weight), tls: \(tlsValue) }")
            } else {
                lines.append("      - { name: \(quoted(service.name)), address: \(quoted(service.address.description)), capacity: \(service.capacity), weight: \(service.weight) }")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// A YAML double-quoted scalar.
private func quoted(_ text: String) -> String {
    "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
}

/// A duration in whole milliseconds, as the configuration writes it.
private func ms(_ duration: Duration) -> String {
    "\(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)ms"
}

/// Where a CVM's data plane finds its TLS files (in the guest) and the traffic manager's
/// address on the segment (its return relays).
public struct CVMGuestTLS: Sendable, Hashable {
    public var gateway: String
    public var certificate: String
    public var key: String
    public var ca: String

    public init(gateway: String, certificate: String, key: String, ca: String) {
        self.gateway = gateway
        self.certificate = certificate
        self.key = key
        self.ca = ca
    }

    /// The files as a configuration's `tls` value.
    var yaml: String { "{ certificate: \(quoted(certificate)), key: \(quoted(key)), ca: \(quoted(ca)) }" }
}

extension TMSConfig {
    /// The name of the return relay of service `index` of CVM vServer `vServer`.
    public static func returnRelayName(_ vServer: String, _ index: Int) -> String { "\(vServer)~return\(index)" }

    /// This configuration with the return relays of the CVM vServers named `vServers`: for
    /// service `i` of each, a TCP vServer on `gateway:returnPort+i` that accepts only mutual
    /// TLS with a certificate of `tls.ca` (the CVMs' CA) and relays to that service in
    /// plaintext on this machine's side. Their usage is reported under task `cvm-return/NAME`.
    public func withCVMReturnRelays(for vServers: Set<String>, gateway: String, tls: TLSConfig) -> TMSConfig {
        var copy = self
        for vServer in self.vServers where vServers.contains(vServer.name) {
            guard let cvm = vServer.cvm else { continue }
            for (index, service) in vServer.services.enumerated() {
                var relay = VServerConfig(name: Self.returnRelayName(vServer.name, index),
                                          bind: HostPort(host: gateway, port: cvm.returnPort + index), mode: .tcp,
                                          services: [ServiceConfig(name: service.name, address: service.address,
                                                                   capacity: max(1, service.capacity), weight: service.weight)],
                                          idleTimeout: vServer.idleTimeout, connectTimeout: vServer.connectTimeout,
                                          task: "cvm-return/\(vServer.name)")
                relay.tls = tls
                copy.vServers.append(relay)
            }
        }
        return copy
    }

    /// The ports of the return relays of the CVM vServers named `vServers`.
    public func cvmReturnPorts(for vServers: Set<String>) -> [Int] {
        self.vServers.filter { vServers.contains($0.name) }.flatMap { vServer -> [Int] in
            guard let cvm = vServer.cvm else { return [] }
            return vServer.services.indices.map { cvm.returnPort + $0 }
        }
    }
}

extension TMSConfig {
    /// The vServers whose monitors a monitoring CVM runs: those with a monitor, except the
    /// ones served by CVMs (their services are the CVMs themselves).
    public var offloadableMonitoredVServers: [VServerConfig] {
        vServers.filter { $0.monitor != nil && $0.cvm == nil && !$0.name.contains("~") }
    }

    /// The services a monitoring CVM probes, in order (the `k`-th one's probe relay listens
    /// on `returnPort + k`).
    var monitoredServices: [(vServer: VServerConfig, service: ServiceConfig)] {
        offloadableMonitoredVServers.flatMap { vServer in vServer.services.map { (vServer, $0) } }
    }

    /// The name of the `k`-th probe relay.
    public static func probeRelayName(_ vServer: String, _ k: Int) -> String { "\(vServer)~probe\(k)" }

    /// This configuration with the probe relays of a monitoring CVM on a host of trust
    /// `public`: for the `k`-th monitored service, a TCP vServer on `gateway:returnPort+k`
    /// that accepts only mutual TLS with a certificate of `tls.ca` (the CVMs' CA) and relays to
    /// that service (its probes then cross the public network in TLS, never in clear). Their
    /// usage is reported under task `monitor-relay`.
    public func withMonitoringRelays(gateway: String, tls: TLSConfig) -> TMSConfig {
        guard let cvm = monitoring.cvm else { return self }
        var copy = self
        for (k, pair) in monitoredServices.enumerated() {
            var service = pair.service
            service.capacity = max(1, service.capacity)
            service.initiallyUp = true
            var relay = VServerConfig(name: Self.probeRelayName(pair.vServer.name, k), bind: HostPort(host: gateway, port: cvm.returnPort + k),
                                      mode: .tcp, services: [service], idleTimeout: .seconds(60),
                                      connectTimeout: pair.vServer.connectTimeout, task: "monitor-relay")
            relay.tls = tls
            copy.vServers.append(relay)
        }
        return copy
    }

    /// The ports of the probe relays.
    public var monitoringRelayPorts: [Int] {
        guard let cvm = monitoring.cvm else { return [] }
        return monitoredServices.indices.map { cvm.returnPort + $0 }
    }

    /// Why the monitors cannot be offloaded to a CVM on a host of trust `public`, or nil:
    /// through a probe relay a TCP connect shows only that the relay answers, not the service.
    public var publicMonitoringProblem: String? {
        let used = Set(offloadableMonitoredVServers.compactMap(\.monitor))
        guard let tcp = monitors.first(where: { used.contains($0.name) && $0.kind == .tcp }) else {
            if let cvm = monitoring.cvm, cvm.returnPort + monitoredServices.count - 1 > 65_535 {
                return "monitoring.cvm.returnPort \(cvm.returnPort) + \(monitoredServices.count) services passes port 65535"
            }
            return nil
        }
        return "monitor \(tcp.name) is a TCP monitor: from a CVM on a public host its probes go through a TLS relay, where a connect shows only that the relay answers; use an HTTP monitor, or a CVM on a private host"
    }

    /// The configuration a monitoring CVM's data plane gets (sent by `serve`): the monitors and
    /// the monitored vServers (no listener, no spillover), each service in the state this
    /// traffic manager's monitors hold now (`states`), and the publishing end of the
    /// monitoring stream on `0.0.0.0:port` with mutual TLS (`tls`, the guest's files).
    ///
    /// `relayed` (a CVM on a host of trust `public`): each service is reached through its
    /// probe relay on the gateway, with mutual TLS (``withMonitoringRelays(gateway:tls:)``).
    public func cvmMonitoringYAML(states: [MonitorState], port: Int, tls: CVMGuestTLS, relayed: Bool = false) -> String {
        let vServers = offloadableMonitoredVServers
        let guestTLS = tls.yaml
        var k = 0
        let used = Set(vServers.compactMap(\.monitor))
        var lines = [
            "cores: 1",
            "monitoring: { publish: \"0.0.0.0:\(port)\", publishTLS: \(guestTLS) }",
            "monitors:",
        ]
        for monitor in monitors where used.contains(monitor.name) {
            var fields = ["name: \(quoted(monitor.name))", "interval: \(ms(monitor.interval))", "timeout: \(ms(monitor.timeout))",
                          "rise: \(monitor.rise)", "fall: \(monitor.fall)", "averageSpan: \(monitor.averageSpan)"]
            switch monitor.kind {
            case .tcp: fields.append("kind: tcp")
            case .http(let path, let expect):
                fields += ["kind: http", "path: \(quoted(path))", "expect: \"\(expect.lowerBound)-\(expect.upperBound)\""]
            }
            if let limit = monitor.responseTimeLimit { fields.append("responseTimeLimit: \(ms(limit))") }
            if let percent = monitor.deviationPercent { fields.append("deviation: \"\(percent)%\"") }
            lines.append("  - { " + fields.joined(separator: ", ") + " }")
        }
        lines.append("vServers:")
        for vServer in vServers {
            lines.append("  - name: \(quoted(vServer.name))")
            lines.append("    monitor: \(quoted(vServer.monitor ?? ""))")
            lines.append("    services:")
            for service in vServer.services {
                let up = states.first { $0.vServer == vServer.name && $0.service == service.name }?.up ?? true
                let address = relayed ? HostPort(host: tls.gateway, port: (monitoring.cvm?.returnPort ?? port) + k) : service.address
                let reach = relayed ? ", tls: \(guestTLS)" : ""
                lines.append("      - { name: \(quoted(service.name)), address: \(quoted(address.description)), capacity: \(service.capacity)\(up ? "" : ", up: false")\(reach) }")
                k += 1
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension TMSConfig {
    /// Where a log-collector CVM keeps its segments: its own disk, after the configuration
    /// block and the credentials (``ConfigBlock``'s data area).
    public static let collectorDevice = "/dev/vda"
    public static let collectorOffset = 1 << 20

    /// The configuration a log-collector CVM gets (sent by `serve`): a collector on
    /// `0.0.0.0:port` with mutual TLS (`tls`, the guest's files), its store on its own disk,
    /// with the retention of `accessLog.cvm`.
    public func cvmCollectorYAML(port: Int, tls: CVMGuestTLS) -> String {
        var fields = ["listen: \"0.0.0.0:\(port)\"",
                      "tls: \(tls.yaml)",
                      "device: \(Self.collectorDevice)", "offset: \(Self.collectorOffset)"]
        if let maxBytes = accessLog.cvm?.maxBytes { fields.append("maxBytes: \(maxBytes)") }
        if let maxAge = accessLog.cvm?.maxAge { fields.append("maxAge: \(ms(maxAge))") }
        return "cores: 1\naccessLog: { collector: { " + fields.joined(separator: ", ") + " } }\n"
    }
}

extension TMSConfig {
    /// The configuration a session-store member CVM gets (sent by `serve`): a member on
    /// `0.0.0.0:port` with mutual TLS (`tls`, the guest's files): the master (`replicaOf`
    /// nil, refusing writes while fewer than `sessionStore.cvm.minReplicas` servants are in
    /// sync), or a servant copying the master at `replicaOf`.
    public func cvmSessionStoreYAML(port: Int, replicaOf: HostPort?, tls: CVMGuestTLS) -> String {
        var fields = ["listen: \"0.0.0.0:\(port)\"",
                      "tls: \(tls.yaml)",
                      "minReplicas: \(sessionStore.cvm?.minReplicas ?? 0)"]
        if let replicaOf { fields.append("replicaOf: \"\(replicaOf)\"") }
        return "cores: 1\nsessionStore: { server: { " + fields.joined(separator: ", ") + " } }\n"
    }
}

extension TMSConfig {
    /// Why a CVM's data plane refuses this configuration although the file is valid, or nil:
    /// a service at a loopback address, which inside a CVM is the CVM itself (its monitors
    /// would judge, and its connections reach, something the operator never meant).
    public var guestProblem: String? {
        for vServer in vServers {
            for service in vServer.services where service.address.isLoopback {
                return "service \(service.name) of vServer \(vServer.name) is at \(service.address), a loopback address, which in a CVM is the CVM itself: give the service an address CVMs reach (the segment's gateway or a segment address)"
            }
        }
        return nil
    }
}
