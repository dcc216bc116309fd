import Foundation
import Libvirt

extension CVMMigrator {
    /// Makes sure both hosts hold this orchestrator's migration certificates (see
    /// ``MigrationTLS``): issued and installed once, checked (by checksum) on every migration.
    func ensureMigrationTLS(source: HostRecord, destination: HostRecord) async throws {
        let tls = MigrationTLS(stateDirectory: configuration.stateDirectory)
        let stateDirectory = configuration.stateDirectory
        let localAddress = configuration.localMigrationAddress
        for host in [source, destination] {
            // The local host's certificate names the address remote hosts reach it at.
            let addresses = host.address.map { [$0] } ?? [localAddress, "127.0.0.1"].compactMap { $0 }
            try await LibvirtExecutor.run {
                let credentials = try tls.credentials(host: host.name, addresses: addresses)
                if host.isLocal {
                    try tls.installLocally(credentials, hostName: host.name)
                } else {
                    let knownHosts = (HostManager.hostDirectory(stateDirectory: stateDirectory, host.name) as NSString)
                        .appendingPathComponent("known_hosts")
                    try tls.installRemotely(credentials, host: host, knownHosts: knownHosts)
                }
            }
        }
    }
}
