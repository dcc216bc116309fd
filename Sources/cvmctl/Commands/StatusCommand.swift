import ArgumentParser
import Foundation
import Orchestrator

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "List CVMs with state, host, uptime, heartbeat age and reported usage.",
        discussion: """
        The store is checked against what libvirt really runs; any disagreement is listed \
        under MISMATCHES. A CVM whose heartbeat is older than three intervals shows as failed.

        Exit status (the report is printed first, --json included): 0 all is well; 2 a CVM \
        is failed (or unknown: its host does not answer); 3 the store and libvirt disagree, \
        or a host could not be asked (3 wins over 2); 1 the command itself failed.
        """)

    /// The exit status for a report (see the discussion).
    static func exitStatus(_ report: StatusReport) -> Int32 { report.exitCode }

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let report = try await global.orchestrator().status()
            let status = Self.exitStatus(report)
            if global.json {
                try JSONOutput.print(report)
                if status != 0 { throw ExitCode(status) }
                return
            }
            if report.cvms.isEmpty {
                print("no CVMs")
            } else {
                var table = Table("NAME", "STATE", "HOST", "ADDRESS", "DOMAIN", "UPTIME", "HEARTBEAT", "CPU", "MEM", "DISK R/W", "TASK")
                for c in report.cvms {
                    let mem = c.memUsedKiB.map { used in
                        "\(Format.bytes(GuestFigures.bytes(kibibytes: used)))/\(Format.bytes(GuestFigures.bytes(kibibytes: c.memTotalKiB ?? 0)))"
                    } ?? "-"
                    let io = c.diskReadBytes.map { "\(Format.bytes($0))/\(Format.bytes(c.diskWriteBytes ?? 0))" } ?? "-"
                    table.add([c.name, c.state, c.host, c.address ?? "-", c.domainState, Format.duration(c.uptimeSeconds),
                               c.lastHeartbeatAgeSeconds.map { Format.duration($0) + " ago" } ?? "never",
                               c.cpuPercent.map { String(format: "%.1f%%", $0) } ?? "-", mem, io,
                               c.role == .single ? c.task : "\(c.task) (\(c.role.rawValue))"])
                }
                print(table.rendered)
                for c in report.cvms where c.failure != nil && c.state == "failed" {
                    print("  \(c.name): \(c.failure!)")
                }
                for c in report.cvms {
                    guard let total = c.lastMigrationTotalMs else { continue }
                    print("  \(c.name): last migration took \(total) ms, pause \(c.lastMigrationPauseMs.map { "\($0) ms" } ?? "unknown")")
                }
            }
            if !report.mismatches.isEmpty {
                print("\nMISMATCHES (store vs libvirt):")
                for m in report.mismatches {
                    print("  \(m.host): \(m.cvm ?? m.domain ?? "?"): \(m.problem)")
                }
            }
            if !report.unreachableHosts.isEmpty {
                print("\nunreachable hosts:")
                for host in report.unreachableHosts {
                    print("  \(host): \(report.hostProblems[host] ?? "no answer")")
                }
            }
            if !report.monitorAlive && !report.cvms.isEmpty {
                print("\nnote: no heartbeat monitor is running for this state directory; start one with `cvmctl monitor`")
            }
            if status != 0 { throw ExitCode(status) }
        }
    }
}
