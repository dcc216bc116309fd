import Libvirt
import CVMProtocol
import Foundation

extension CVMOrchestrator {
    /// Removes every trace of a CVM: domain (destroyed and undefined), its volumes, and
    /// its row. Each step tolerates the thing being gone already, so it can be repeated.
    /// A rollback runs it in a cancelled task: its store work is not cancelled.
    func teardown(_ record: CVMRecord, reason: String) async throws {
        let store = self.store
        let host = try await withoutCancellation { try await store.host(named: record.host) }
        if let host {
            let connection = try await LibvirtExecutor.run { try self.connection(to: host) }
            try await LibvirtExecutor.run {
                if let domain = try connection.lookupDomain(name: record.domainName) {
                    try domain.destroy()
                    if domain.isPersistent { try domain.undefine() }
                }
                let storage = HostStorage(host: host, connection: connection)
                if let pool = try connection.lookupStoragePool(name: storage.poolName) {
                    try? pool.refresh()
                    for volume in HostStorage.volumes(record) {
                        try pool.lookupVolume(name: volume)?.delete()
                    }
                }
            }
        }
        try await withoutCancellation { try await store.deleteCVM(id: record.id) }
        journal("cvm.removed", cvm: record.name, host: record.host, reason)
    }
}
