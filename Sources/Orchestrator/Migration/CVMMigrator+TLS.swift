import Foundation
import Libvirt

extension CVMMigrator {
    /// Makes sure both hosts hold this orchestrator's migration certificates (see
    /// ``MigrationTLS``): issued once (here, with openssl), installed by each host's
    /// hypervisor and checked (by checksum) on every migration.
    func ensureMigrationTLS(source: HostRecord, sourceHypervisor: any Hypervisor,
                            destination: HostRecord, destinationHypervisor: any Hypervisor) async throws {
        let tls = MigrationTLS(stateDirectory: configuration.stateDirectory)
        let localAddress = configuration.localMigrationAddress
        for (host, hypervisor) in [(source, sourceHypervisor), (destination, destinationHypervisor)] {
            // The local host's certificate names the address remote hosts reach it at.
            let addresses = host.address.map { [$0] } ?? [localAddress, "127.0.0.1"].compactMap { $0 }
            let credentials = try await LibvirtExecutor.run { try tls.credentials(host: host.name, addresses: addresses) }
            try await hypervisor.installMigrationCredentials(tls, credentials)
        }
    }
}
