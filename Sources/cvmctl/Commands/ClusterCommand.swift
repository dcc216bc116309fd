import ArgumentParser
import Foundation
import Orchestrator

struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Run several CVMs of one task as a cluster: one master, servants, each knowing every member.",
        discussion: """
        Members are named CLUSTER-1, CLUSTER-2, ... and spread over the given hosts. While \
        `cvmctl monitor` runs, the loss of the master promotes the running servant that \
        heartbeated last; `heal` also replaces lost members and adds missing ones. Every \
        agent is told its role and peers over its signed command channel.
        """,
        subcommands: [Create.self, Status.self, Heal.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deploy a cluster; on any failure the members already deployed are removed again.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The cluster's name (a-z, 0-9, '-'; at most 36 characters).")
        var name: String

        @Option(help: "Image name from the catalog.")
        var image: String

        @Option(help: "Members (1-32).")
        var size: Int

        @Option(help: "Task the members run (default: the image's first task).")
        var task: String?

        @Option(name: .customLong("host"), help: "A host members may go to (repeat to spread; default: local).")
        var hosts: [String] = []

        @Option(help: "Seconds each member gets to send its first heartbeat.")
        var timeout: Double?

        func validate() throws {
            if !CVMOrchestrator.clusterSizes.contains(size) { throw ValidationError("--size must be 1...32") }
            if let timeout, timeout <= 0 { throw ValidationError("--timeout must be positive") }
        }

        func run() async throws {
            try await reportingErrors {
                let orchestrator = try global.orchestrator()
                let request = ClusterRequest(name: name, image: image, task: task, size: size,
                                             hosts: hosts.isEmpty ? [CVMOrchestrator.localHostName] : hosts, timeout: timeout.map { .milliseconds(Int64(min($0, 86_400) * 1000)) })
                let global = self.global
                let report = try await cancellableOnSignal {
                    try await orchestrator.createCluster(request) { global.progress($0) }
                }
                if global.json { try JSONOutput.print(report) } else { print(Status.render([report])) }
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show clusters: members, roles, hosts and states.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "One cluster (default: all).")
        var name: String?

        func run() async throws {
            try await reportingErrors {
                let orchestrator = try global.orchestrator()
                let reports = try name.map { [try orchestrator.clusterReport(name: $0)] } ?? orchestrator.clusterReports()
                if global.json { try JSONOutput.print(reports) } else { print(Self.render(reports)) }
            }
        }

        static func render(_ reports: [ClusterReport]) -> String {
            guard !reports.isEmpty else { return "no clusters" }
            var out: [String] = []
            for report in reports {
                out.append("cluster \(report.name)\(report.managedBy == "policy" ? " (policy task)" : ""): \(report.task) on \(report.image), \(report.running)/\(report.size) running, "
                    + "master \(report.master ?? "none")\(report.healthy || report.managedBy == "policy" ? "" : " — needs `cvmctl cluster heal \(report.name)`")")
                var table = Table("MEMBER", "ROLE", "AGENT ROLE", "HOST", "STATE", "LAST HB")
                for member in report.members {
                    table.add([member.name, member.role.rawValue, member.agentRole?.rawValue ?? "-", member.host, member.state,
                               member.lastHeartbeatAgeSeconds.map { String(format: "%.1fs", $0) } ?? "-"])
                }
                out.append(table.rendered)
            }
            return out.joined(separator: "\n")
        }
    }

    struct Heal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Promote a servant if the master is lost, replace lost members, add missing ones, re-tell every agent its role.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The cluster's name.")
        var name: String

        func run() async throws {
            try await reportingErrors {
                let orchestrator = try global.orchestrator()
                let (name, global) = (self.name, self.global)
                let result = try await cancellableOnSignal {
                    try await orchestrator.healCluster(name: name, progress: { global.progress($0) })
                }
                if global.json {
                    try JSONOutput.print(result)
                    return
                }
                if let promoted = result.promoted { print("promoted \(promoted) to master") }
                for replacement in result.replaced { print("replaced \(replacement.lost) with \(replacement.replacement) on \(replacement.host)") }
                for added in result.added { print("added \(added)") }
                if !result.unreachable.isEmpty { print("not reached (retry later): \(result.unreachable.joined(separator: ", "))") }
                if !result.changedAnything && result.unreachable.isEmpty { print("cluster \(name) is whole; nothing to do") }
                else if !result.configured.isEmpty { print("told role and peers: \(result.configured.joined(separator: ", "))") }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Decommission every member and forget the cluster.")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The cluster's name.")
        var name: String

        func run() async throws {
            try await reportingErrors {
                let orchestrator = try global.orchestrator()
                let (name, global) = (self.name, self.global)
                let results = try await orchestrator.deleteCluster(name: name) { global.progress($0) }
                if global.json {
                    try JSONOutput.print(results.map { ["name": $0.name, "outcome": $0.outcome.rawValue] })
                } else {
                    print("deleted cluster \(name): \(results.count) members decommissioned")
                }
            }
        }
    }
}
