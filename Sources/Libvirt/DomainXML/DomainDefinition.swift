/// A libvirt domain definition (`<domain>`), typed after libvirt's schema for the parts
/// the orchestrator writes. Everything else found in a parsed document is kept in
/// `unmodeled` / `Devices.unmodeled` and written back unchanged.
public struct DomainDefinition: Sendable, Equatable {
    /// `<domain type=…>`: `kvm` when hardware virtualization works, else `qemu` (TCG).
    public var type: String
    public var name: String
    public var uuid: String?
    public var metadata: Metadata
    /// `<memory unit='KiB'>`
    public var memoryKiB: UInt64
    public var vcpus: Int
    /// `<vcpu placement=…>` as libvirt reports it (kept for a faithful write-back).
    public var vcpuPlacement: String?
    public var os: OS
    /// `<features>` children (`acpi`, …), kept whole since some carry attributes.
    public var features: [XMLTree]
    public var onPoweroff: String
    public var onReboot: String
    public var onCrash: String
    public var devices: Devices
    public var unmodeled: [XMLTree]

    public init(type: String, name: String, uuid: String? = nil, metadata: Metadata = Metadata(),
                memoryKiB: UInt64, vcpus: Int, vcpuPlacement: String? = nil, os: OS,
                features: [XMLTree] = [XMLTree("acpi")],
                onPoweroff: String = "destroy", onReboot: String = "destroy", onCrash: String = "destroy",
                devices: Devices, unmodeled: [XMLTree] = []) {
        self.type = type
        self.name = name
        self.uuid = uuid
        self.metadata = metadata
        self.memoryKiB = memoryKiB
        self.vcpus = vcpus
        self.vcpuPlacement = vcpuPlacement
        self.os = os
        self.features = features
        self.onPoweroff = onPoweroff
        self.onReboot = onReboot
        self.onCrash = onCrash
        self.devices = devices
        self.unmodeled = unmodeled
    }

    /// `<os>`: direct kernel boot.
    public struct OS: Sendable, Equatable {
        public var arch: String = "x86_64"
        public var machine: String?
        public var kernel: String?
        public var initrd: String?
        public var cmdline: String?
        /// Other `<os>` children (`<boot dev=…>`, loaders, …), kept as found.
        public var unmodeled: [XMLTree] = []
        public init(arch: String = "x86_64", machine: String? = nil, kernel: String? = nil,
                    initrd: String? = nil, cmdline: String? = nil, unmodeled: [XMLTree] = []) {
            self.unmodeled = unmodeled
            self.arch = arch
            self.machine = machine
            self.kernel = kernel
            self.initrd = initrd
            self.cmdline = cmdline
        }
    }

    /// `<metadata>`: every application's element (each in its own namespace), kept as is
    /// and in order. Users of the binding add typed views over their own element.
    public struct Metadata: Sendable, Equatable {
        public var elements: [XMLTree]
        public init(elements: [XMLTree] = []) {
            self.elements = elements
        }
    }

    /// `<devices>`
    public struct Devices: Sendable, Equatable {
        public var emulator: String?
        public var disks: [Disk]
        public var channels: [Channel]
        public var interfaces: [Interface]
        public var serials: [Serial]
        public var consoles: [Serial]
        /// `<memballoon model=…>`; `none` for CVMs (no balloon driver in the guest).
        public var memballoon: String?
        public var unmodeled: [XMLTree]
        public init(emulator: String? = nil, disks: [Disk] = [], channels: [Channel] = [],
                    interfaces: [Interface] = [],
                    serials: [Serial] = [], consoles: [Serial] = [], memballoon: String? = "none",
                    unmodeled: [XMLTree] = []) {
            self.emulator = emulator
            self.disks = disks
            self.channels = channels
            self.interfaces = interfaces
            self.serials = serials
            self.consoles = consoles
            self.memballoon = memballoon
            self.unmodeled = unmodeled
        }
    }

    /// `<disk type='file' device='disk'>`
    public struct Disk: Sendable, Equatable {
        public var driverType: String
        public var sourceFile: String
        public var targetDev: String
        public var targetBus: String
        public init(driverType: String = "qcow2", sourceFile: String, targetDev: String = "vda",
                    targetBus: String = "virtio") {
            self.driverType = driverType
            self.sourceFile = sourceFile
            self.targetDev = targetDev
            self.targetBus = targetBus
        }
    }

    /// `<channel type='unix'>` with a virtio target: the agent's private line to the host.
    /// A nil `sourcePath` lets libvirt choose the socket path on whichever host runs the
    /// domain, which keeps the definition valid after a migration.
    public struct Channel: Sendable, Equatable {
        public var sourceMode: String
        public var sourcePath: String?
        public var targetName: String
        /// User alias (must start with `ua-`), used by `virDomainOpenChannel`.
        public var alias: String?
        public init(sourceMode: String = "bind", sourcePath: String? = nil, targetName: String, alias: String?) {
            self.sourceMode = sourceMode
            self.sourcePath = sourcePath
            self.targetName = targetName
            self.alias = alias
        }
    }

    /// `<interface type='network'>` with a virtio model and a fixed MAC: a CVM's NIC on the
    /// CVM network (the same network name on every host, so it survives migration).
    public struct Interface: Sendable, Equatable {
        public var network: String
        public var mac: String
        public var model: String
        /// `<target dev=…>`: the host's tap device name; nil lets libvirt pick `vnetN`.
        public var targetDev: String?
        /// `<mtu size=…>`: the tap's MTU, which libvirt also gives a virtio guest (host_mtu).
        public var mtu: Int?
        public init(network: String, mac: String, model: String = "virtio", targetDev: String? = nil, mtu: Int? = nil) {
            self.network = network
            self.mac = mac
            self.model = model
            self.targetDev = targetDev
            self.mtu = mtu
        }
    }

    /// `<serial>` / `<console>` of type `pty` (or `file` with a path), optionally with its
    /// output also appended to `logFile` (`<log file=… append='on'/>`, written by virtlogd).
    public struct Serial: Sendable, Equatable {
        public var type: String
        public var sourcePath: String?
        public var targetPort: Int?
        public var logFile: String?
        public init(type: String = "pty", sourcePath: String? = nil, targetPort: Int? = 0, logFile: String? = nil) {
            self.type = type
            self.sourcePath = sourcePath
            self.targetPort = targetPort
            self.logFile = logFile
        }
    }
}
