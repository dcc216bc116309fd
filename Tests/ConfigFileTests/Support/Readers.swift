import ConfigFile
import Orchestrator
import Planning
import TrafficManager

/// The three readers built on `YAMLText`, and what each made of a text: a value, or its
/// first error (policy: its diagnostics).
enum Reader: String, CaseIterable, CustomStringConvertible {
    case policy, trafficManagerConfig, imageManifest

    var description: String { rawValue }

    enum Outcome {
        case accepted
        /// One line each, `file:line:col: ...`.
        case refused([String])
    }

    func read(_ text: String) -> Outcome {
        switch self {
        case .policy:
            let diagnostics = PolicyLoader.validate([PolicyFile(path: "p.yaml", text: text)], context: .none)
            return diagnostics.isEmpty ? .accepted : .refused(diagnostics.map(\.description))
        case .trafficManagerConfig:
            do {
                _ = try TMSConfig.parse(text, file: "tms.yaml")
                return .accepted
            } catch {
                return .refused([error.description])
            }
        case .imageManifest:
            do {
                _ = try ImageManifest.parse(text, file: "manifest.yaml")
                return .accepted
            } catch {
                return .refused(["\(error)"])
            }
        }
    }

    /// A valid document of this reader's kind, to plant trouble in.
    var validDocument: String {
        switch self {
        case .policy:
            """
            tiers:
              gold:
                security: local-only
                allowedHosts: [local]
            clouds:
              home: { trust: local, hosts: [local] }
            tasks:
              web:
                image: cvm-base
                tier: gold
                maxCVMs: 2
                vcpus: 1
                memoryMiB: 128
                thresholds: { connections: 100 }
            """
        case .trafficManagerConfig:
            """
            cores: 2
            vServers:
              - name: web
                bind: 127.0.0.1:0
                services: [{ name: s, address: 127.0.0.1, port: 8080, capacity: 10 }]
                spillover: { kind: connection, limit: 5, t1: 80% }
            """
        case .imageManifest:
            """
            name: cvm-base
            version: 1.0.0
            tasks: [web]
            hypervisors: [qemu]
            defaults: { vcpus: 1, memoryMiB: 128, diskMiB: 64 }
            boot: { method: direct-kernel, cmdline: console=ttyS0 }
            artifacts:
              - { name: kernel, file: vmlinuz }
              - { name: initrd, file: initrd.img }
            recipe: recipe.sh
            """
        }
    }
}
