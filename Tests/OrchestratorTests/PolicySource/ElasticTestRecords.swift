import CVMProtocol
import Foundation
@testable import Orchestrator

/// CVM and host records as the store holds them, for the elastic runtime's pure parts.
enum ElasticTestRecords {
    static func cvm(
        _ name: String, task: String = "health-monitor", host: String = "local", state: CVMRecord.State = .running,
        policyCommit: String? = "abc", vcpus: Int = 1, memoryMiB: Int = 128, boot: String? = "b1",
        cpu: Double? = nil, memUsedKiB: Int64? = nil, connections: Int64? = nil, heartbeatAt: Date? = Date(),
        netBytes: Int64? = nil, diskBytes: Int64? = nil
    ) -> CVMRecord {
        CVMRecord(
            id: "id-" + name, name: name, image: "cvm-base", imageVersion: "1", task: task, role: .single, host: host,
            domainName: "cvm-" + name, state: state, secret: String(repeating: "00", count: 32), vcpus: vcpus,
            memoryMiB: memoryMiB, diskMiB: 64, intervalMs: 1000, virtType: "qemu", createdAt: Date(),
            lastHeartbeatAt: heartbeatAt, bootNonce: boot, cpuPercent: cpu, memUsedKiB: memUsedKiB,
            diskReadBytes: diskBytes, diskWriteBytes: diskBytes.map { _ in 0 }, netRxBytes: netBytes,
            netTxBytes: netBytes.map { _ in 0 }, connections: connections, policyCommit: policyCommit)
    }

    static func host(
        _ name: String, trust: HostRecord.Trust = .private, cpus: Int = 8, memoryMiB: Int = 16384, latencyMs: Double? = 2,
        cost: Double = 0.1, hypervisors: [String] = ["qemu", "kvm"]
    ) -> HostRecord {
        HostRecord(
            name: name, uri: "qemu+libssh2://root@10.0.0.1/system", address: name == "local" ? nil : "10.0.0.1",
            user: "root", identity: nil, hostKey: nil, zone: "z", latitude: 48.8, longitude: 2.3, trust: trust, cpus: cpus,
            memoryMiB: memoryMiB, costPerHour: cost, latencyMs: latencyMs, dataDir: "/var/lib/cvm", hypervisors: hypervisors,
            addedAt: Date())
    }

    static let local = HostRecord(
        name: "local", uri: "qemu:///system", address: nil, user: nil, identity: nil, hostKey: nil, zone: "local",
        latitude: 0, longitude: 0, trust: .local, cpus: 0, memoryMiB: 0, costPerHour: 0, latencyMs: 0,
        dataDir: "/var/lib/cvmctl/local", hypervisors: ["qemu", "kvm"], addedAt: Date())
}
