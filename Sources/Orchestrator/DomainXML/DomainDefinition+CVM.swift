import Libvirt
extension DomainDefinition {
    /// The definition of a CVM's domain: direct kernel boot of the image's kernel and initrd,
    /// one raw virtio disk (its first block holds the CVM's configuration), the agent's virtio-serial channel (socket path chosen by
    /// libvirt on whichever host runs it), a serial console (its output also in a log file, for `cvmctl console`), no balloon, and our metadata.
    /// Power-off, reboot and crash all end the domain: the orchestrator decides what next.
    /// With a `lease`, one virtio NIC on the CVM network with the leased MAC and a tap device
    /// named after the CVM (the same on every host it migrates to).
    public static func cvm(_ record: CVMRecord, owner: String, kernel: String, initrd: String,
                           disk: String, cmdline: String, lease: AddressLease? = nil) -> DomainDefinition {
        DomainDefinition(
            type: record.virtType, name: record.domainName, uuid: record.id,
            metadata: .init(cvm: CVMMetadata(id: record.id, name: record.name, image: record.image,
                                             task: record.task, role: record.role.rawValue, owner: owner)),
            memoryKiB: UInt64(record.memoryMiB) * 1024, vcpus: record.vcpus,
            os: .init(kernel: kernel, initrd: initrd, cmdline: cmdline),
            devices: .init(disks: [.init(driverType: "raw", sourceFile: disk)],
                           channels: [.init(targetName: AgentChannel.portName, alias: AgentChannel.alias)],
                           interfaces: lease.map {
                               [.init(network: CVMNetworkDefinition.networkName, mac: $0.mac,
                                      targetDev: CVMNetworkDefinition.tapDevice(cvmID: record.id),
                                      mtu: CVMNetworkDefinition.mtu)]
                           } ?? [],
                           serials: [.init(logFile: CVMConsole.logPath(disk: disk, of: record))], consoles: [.init()]))
    }
}
