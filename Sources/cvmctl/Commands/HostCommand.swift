import ArgumentParser
import Foundation
import Orchestrator

struct HostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host",
        abstract: "Register, list, probe and remove hypervisor hosts.",
        subcommands: [Add.self, List.self, Probe.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a remote host reached over SSH (pinned host key, key-based login).",
            discussion: """
            The host is contacted before it is saved: its SSH host key must match --host-key \
            (or, only with --accept-new-host-key, the key it presents is pinned), and --identity \
            must log in. libvirt is then reached over qemu+ssh (OpenSSH, checking the same pinned key) with the same identity.
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Host name (a-z, 0-9, '-').") var name: String
        @Option(help: "Literal IP address (names are not resolved).") var address: String
        @Option(help: "SSH user.") var user: String = "root"
        @Option(help: "Private key file (ed25519).") var identity: String
        @Option(help: ArgumentHelp("Pinned host key, 'TYPE BASE64'.", valueName: "key")) var hostKey: String?
        @Flag(help: "Trust and pin the host key the host presents now (trust on first use).") var acceptNewHostKey = false
        @Option(help: "Zone name.") var zone: String = "default"
        @Option(help: "Latitude.") var lat: Double = 0
        @Option(help: "Longitude.") var lon: Double = 0
        @Option(help: "Trust level: local, private or public.") var trust: String = "private"
        @Option(help: "vCPUs offered to CVMs (0: probe).") var cpus: Int = 0
        @Option(help: "Memory offered to CVMs in MiB (0: probe).") var memoryMib: Int = 0
        @Option(help: "Cost per hour.") var cost: Double = 0
        @Option(help: "Where images and volumes go on the host.") var dataDir: String = "/var/lib/cvm"
        @Option(help: "Domain types allowed there, comma-separated.") var hypervisors: String = "qemu,kvm"

        func validate() throws {
            guard HostRecord.Trust(rawValue: trust) != nil else { throw ValidationError("--trust must be local, private or public") }
        }

        func run() async throws {
            try await reportingErrors {
                let spec = HostSpec(name: name, address: address, user: user, identity: identity, hostKey: hostKey,
                                    zone: zone, latitude: lat, longitude: lon, trust: HostRecord.Trust(rawValue: trust)!,
                                    cpus: cpus, memoryMiB: memoryMib, costPerHour: cost, dataDir: dataDir,
                                    hypervisors: hypervisors.split(separator: ",").map(String.init),
                                    acceptNewHostKey: acceptNewHostKey)
                let orchestrator = try global.orchestrator()
                let record = try await orchestrator.addHost(spec)
                if global.json { try JSONOutput.print(HostRow(record)); return }
                print("added host \(record.name) (\(record.user ?? "")@\(record.address ?? "")), host key \(record.hostKey ?? "?")")
            }
        }
    }

    struct HostRow: Encodable {
        var name: String, address: String?, user: String?, zone: String, latitude: Double, longitude: Double
        var trust: String, cpus: Int, memoryMiB: Int, costPerHour: Double, latencyMs: Double?, hypervisors: String
        var cvms: Int
        init(_ h: HostRecord, cvms: Int = 0) {
            name = h.name; address = h.address; user = h.user; zone = h.zone; latitude = h.latitude; longitude = h.longitude
            trust = h.trust.rawValue; cpus = h.cpus; memoryMiB = h.memoryMiB; costPerHour = h.costPerHour
            latencyMs = h.latencyMs; hypervisors = h.hypervisors.joined(separator: ","); self.cvms = cvms
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List hosts.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await reportingErrors {
                let store = try global.orchestrator().store
                let cvms = try store.cvms()
                let rows = try store.hosts().map { h in HostRow(h, cvms: cvms.filter { $0.host == h.name }.count) }
                if global.json { try JSONOutput.print(rows); return }
                var table = Table("NAME", "ADDRESS", "TRUST", "ZONE", "CPUS", "MEMORY", "COST/H", "RTT", "KINDS", "CVMS")
                for r in rows {
                    table.add([r.name, r.address ?? "-", r.trust, r.zone, r.cpus == 0 ? "?" : "\(r.cpus)",
                               r.memoryMiB == 0 ? "?" : "\(r.memoryMiB)MiB", String(format: "%.2f", r.costPerHour),
                               r.latencyMs.map { String(format: "%.1fms", $0) } ?? "-", r.hypervisors, "\(r.cvms)"])
                }
                print(table.rendered)
            }
        }
    }

    struct Probe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a host: reachable, libvirt version, capacity, round-trip time.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Host name.") var name: String

        func run() async throws {
            try await reportingErrors {
                let probe = try await global.orchestrator().probeHost(named: name)
                if global.json { try JSONOutput.print(probe) } else {
                    print("\(probe.name): reachable, hostname \(probe.hostname ?? "?"), libvirt \(probe.libvirtVersion ?? "?"), \(probe.cpus ?? 0) CPUs, \(probe.memoryMiB ?? 0) MiB (\(probe.freeMemoryMiB ?? 0) MiB free), round trip \(String(format: "%.1f", probe.roundTripMs ?? 0)) ms")
                }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Forget a host (refused while CVMs run there).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Host name.") var name: String

        func run() async throws {
            try await reportingErrors {
                try await global.orchestrator().removeHost(named: name)
                if !global.json { print("removed host \(name)") }
            }
        }
    }
}
