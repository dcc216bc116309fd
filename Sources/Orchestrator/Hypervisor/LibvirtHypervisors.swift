import Foundation
import Libvirt
import SSHClient
import Synchronization

/// The hosts' hypervisors through libvirt, one connection per host reused within the process.
package final class LibvirtHypervisors: HypervisorProvider {
    private let connections = Mutex<[String: LibvirtConnection]>([:])
    /// Where each remote host's pinned known_hosts file is, by host name.
    let knownHostsPath: @Sendable (String) -> String

    package init(knownHostsPath: @escaping @Sendable (String) -> String) {
        self.knownHostsPath = knownHostsPath
    }

    package func hypervisor(for host: HostRecord) async throws -> any Hypervisor {
        try await libvirtHypervisor(for: host)
    }

    package func libvirtHypervisor(for host: HostRecord) async throws -> LibvirtHypervisor {
        let connection = try await LibvirtExecutor.run { try self.connection(to: host) }
        return LibvirtHypervisor(host: host, connection: connection, knownHostsPath: knownHostsPath(host.name))
    }

    /// An open connection to a host's libvirtd, reused within this process. Blocks.
    package func connection(to host: HostRecord) throws -> LibvirtConnection {
        // A remote host's URI is made from its record each time (its SSH wrapper rewritten if
        // needed): a store written by an older version or a moved state directory still works.
        let uri = host.isLocal ? host.uri : try LibvirtSSHTransport.prepare(host, knownHosts: knownHostsPath(host.name))
        if let cached = connections.withLock({ $0[host.name] }), cached.uri == uri, cached.isAlive { return cached }
        let connection: LibvirtConnection
        do {
            connection = try LibvirtConnection(uri: uri)
        } catch let error as LibvirtError {
            guard !host.isLocal else { throw OrchestratorError.libvirtUnreachable(uri: uri, reason: error.message) }
            // libvirt's transport reports every SSH fault alike; our own SSH check tells a
            // wrong or unknown host key, a refused login and an unreachable address apart.
            try RemoteAccess(host: host, knownHosts: knownHostsPath(host.name)).session(timeout: .seconds(5)).disconnect()
            throw OrchestratorError.hostUnreachable(host: host.name, reason: "libvirt: \(error.message)")
        }
        // A peer silent for about 6 s closes the connection: calls blocked on a dropped link
        // fail then instead of holding a thread of the bounded libvirt pool for minutes.
        connection.setKeepAlive(interval: 2, count: 2)
        connections.withLock { $0[host.name] = connection }
        return connection
    }

    package func dedicated() -> any HypervisorProvider {
        LibvirtHypervisors(knownHostsPath: knownHostsPath)
    }

    package func forget(host: String) {
        let dropped = connections.withLock { $0.removeValue(forKey: host) }
        // Closing a connection over a dead link blocks: not here, and not under the lock.
        if let dropped { Thread.detachNewThread { withExtendedLifetime(dropped) {} } }
    }

    /// Closes every connection opened so far.
    package func closeAll() {
        connections.withLock { $0.removeAll() }
    }
}
