import CVMProtocol
import Foundation
import Libvirt

/// The CVM network on one host, through libvirt's network API: made when missing (an
/// idempotent step of adding a host or deploying on it), left alone when it is what we want,
/// refused with one line when a network of that name holds another subnet.
enum HostNetwork {
    static func ensure(_ definition: CVMNetworkDefinition, on connection: LibvirtConnection, host: String) throws {
        if let network = try connection.lookupNetwork(name: CVMNetworkDefinition.networkName) {
            guard try network.xml().contains(CVMNetworkDefinition.bridgeName) else {
                throw OrchestratorError.hostRefused(host: host, reason:
                    "libvirt network '\(CVMNetworkDefinition.networkName)' exists over another bridge than \(CVMNetworkDefinition.bridgeName); remove it (virsh net-destroy/net-undefine)")
            }
            if !network.isActive { try network.start() }
            return
        }
        do {
            _ = try connection.createNetwork(xml: definition.xml)
        } catch let error as LibvirtError where error.message.contains("already exists") {
            // Another cvmctl made it between our lookup and create.
            guard try connection.lookupNetwork(name: CVMNetworkDefinition.networkName) != nil else { throw error }
        }
    }

    /// Removes it; nothing to do when it is gone. CVMs still on it keep running (their NIC
    /// loses its bridge): callers remove a host's network only when no CVM is left there.
    static func remove(on connection: LibvirtConnection) throws {
        try connection.lookupNetwork(name: CVMNetworkDefinition.networkName)?.remove()
    }
}
