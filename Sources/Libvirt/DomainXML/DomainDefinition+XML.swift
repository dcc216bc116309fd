/// Converts a ``DomainDefinition`` to and from libvirt's XML.
extension DomainDefinition {
    public var xml: String { tree.rendered() }

    public var tree: XMLTree {
        var children: [XMLTree] = [XMLTree("name", text: name)]
        if let uuid { children.append(XMLTree("uuid", text: uuid)) }
        let meta = metadata.elements
        if !meta.isEmpty { children.append(XMLTree("metadata", children: meta.map { .element($0) })) }
        children.append(XMLTree("memory", [("unit", "KiB")], text: String(memoryKiB)))
        children.append(XMLTree("vcpu", vcpuPlacement.map { [("placement", $0)] } ?? [], text: String(vcpus)))
        children.append(os.tree)
        if !features.isEmpty {
            children.append(XMLTree("features", children: features.map { .element($0) }))
        }
        children.append(XMLTree("on_poweroff", text: onPoweroff))
        children.append(XMLTree("on_reboot", text: onReboot))
        children.append(XMLTree("on_crash", text: onCrash))
        children.append(devices.tree)
        children.append(contentsOf: unmodeled)
        return XMLTree("domain", [("type", type)], children: children.map { .element($0) })
    }

    /// Parses a domain document. Unknown elements are kept for a faithful write-back.
    public init(xml: String) throws {
        try self.init(tree: XMLTree.parse(xml))
    }

    public init(tree: XMLTree) throws {
        guard tree.name == "domain" else { throw XMLParseError(line: 1, message: "root element is <\(tree.name)>, not <domain>") }
        guard let name = tree.first("name")?.text else { throw XMLParseError(line: 1, message: "<domain> has no <name>") }
        let known: Set = ["name", "uuid", "metadata", "memory", "vcpu", "os", "features",
                          "on_poweroff", "on_reboot", "on_crash", "devices"]
        var metadata = Metadata()
        for element in tree.first("metadata")?.elements ?? [] {
            metadata.elements.append(element)
        }
        self.init(
            type: tree[attribute: "type"] ?? "qemu",
            name: name,
            uuid: tree.first("uuid")?.text,
            metadata: metadata,
            memoryKiB: Self.kibibytes(tree.first("memory")),
            vcpus: Int(tree.first("vcpu")?.text ?? "") ?? 1,
            vcpuPlacement: tree.first("vcpu")?[attribute: "placement"],
            os: OS(tree: tree.first("os") ?? XMLTree("os")),
            features: tree.first("features")?.elements ?? [],
            onPoweroff: tree.first("on_poweroff")?.text ?? "destroy",
            onReboot: tree.first("on_reboot")?.text ?? "restart",
            onCrash: tree.first("on_crash")?.text ?? "destroy",
            devices: Devices(tree: tree.first("devices") ?? XMLTree("devices")),
            unmodeled: tree.elements.filter { !known.contains($0.name) })
    }

    static func kibibytes(_ element: XMLTree?) -> UInt64 {
        guard let element, let value = UInt64(element.text) else { return 0 }
        switch (element[attribute: "unit"] ?? "KiB").lowercased() {
        case "b", "bytes": return value / 1024
        case "m", "mib": return value * 1024
        case "g", "gib": return value * 1024 * 1024
        default: return value
        }
    }
}

extension DomainDefinition.OS {
    var tree: XMLTree {
        var type = XMLTree("type", [("arch", arch)], text: "hvm")
        if let machine { type.attributes.append(("machine", machine)) }
        var children: [XMLTree] = [type]
        if let kernel { children.append(XMLTree("kernel", text: kernel)) }
        if let initrd { children.append(XMLTree("initrd", text: initrd)) }
        if let cmdline { children.append(XMLTree("cmdline", text: cmdline)) }
        children.append(contentsOf: unmodeled)
        return XMLTree("os", children: children.map { .element($0) })
    }

    init(tree: XMLTree) {
        let type = tree.first("type")
        self.init(arch: type?[attribute: "arch"] ?? "x86_64", machine: type?[attribute: "machine"],
                  kernel: tree.first("kernel")?.text, initrd: tree.first("initrd")?.text,
                  cmdline: tree.first("cmdline")?.text,
                  unmodeled: tree.elements.filter { !["type", "kernel", "initrd", "cmdline"].contains($0.name) })
    }
}

extension DomainDefinition.Devices {
    var tree: XMLTree {
        var children: [XMLTree] = []
        if let emulator { children.append(XMLTree("emulator", text: emulator)) }
        for disk in disks {
            children.append(XMLTree("disk", [("type", "file"), ("device", "disk")], children: [
                .element(XMLTree("driver", [("name", "qemu"), ("type", disk.driverType)])),
                .element(XMLTree("source", [("file", disk.sourceFile)])),
                .element(XMLTree("target", [("dev", disk.targetDev), ("bus", disk.targetBus)])),
            ]))
        }
        for serial in serials { children.append(serial.tree(element: "serial")) }
        for console in consoles { children.append(console.tree(element: "console")) }
        for channel in channels {
            var source = XMLTree("source", [("mode", channel.sourceMode)])
            if let path = channel.sourcePath { source.attributes.append(("path", path)) }
            var parts: [XMLTree] = [source, XMLTree("target", [("type", "virtio"), ("name", channel.targetName)])]
            if let alias = channel.alias { parts.append(XMLTree("alias", [("name", alias)])) }
            children.append(XMLTree("channel", [("type", "unix")], children: parts.map { .element($0) }))
        }
        for interface in interfaces {
            var parts: [XMLTree] = [XMLTree("mac", [("address", interface.mac)]),
                                    XMLTree("source", [("network", interface.network)])]
            if let target = interface.targetDev { parts.append(XMLTree("target", [("dev", target)])) }
            parts.append(XMLTree("model", [("type", interface.model)]))
            if let mtu = interface.mtu { parts.append(XMLTree("mtu", [("size", String(mtu))])) }
            children.append(XMLTree("interface", [("type", "network")], children: parts.map { .element($0) }))
        }
        if let memballoon { children.append(XMLTree("memballoon", [("model", memballoon)])) }
        children.append(contentsOf: unmodeled)
        return XMLTree("devices", children: children.map { .element($0) })
    }

    /// Models a device only when the typed value renders back to exactly the element it
    /// came from; anything richer (live-state attributes, extra children) is kept verbatim.
    init(tree: XMLTree) {
        var devices = Self(memballoon: nil)
        for element in tree.elements {
            switch element.name {
            case "emulator":
                devices.emulator = element.text
                continue
            case "disk":
                let disk = DomainDefinition.Disk(
                    driverType: element.first("driver")?[attribute: "type"] ?? "raw",
                    sourceFile: element.first("source")?[attribute: "file"] ?? "",
                    targetDev: element.first("target")?[attribute: "dev"] ?? "vda",
                    targetBus: element.first("target")?[attribute: "bus"] ?? "virtio")
                if Self(disks: [disk], memballoon: nil).tree.elements == [element] { devices.disks.append(disk); continue }
            case "channel":
                let channel = DomainDefinition.Channel(
                    sourceMode: element.first("source")?[attribute: "mode"] ?? "bind",
                    sourcePath: element.first("source")?[attribute: "path"],
                    targetName: element.first("target")?[attribute: "name"] ?? "",
                    alias: element.first("alias")?[attribute: "name"])
                if Self(channels: [channel], memballoon: nil).tree.elements == [element] { devices.channels.append(channel); continue }
            case "interface" where element[attribute: "type"] == "network":
                let interface = DomainDefinition.Interface(
                    network: element.first("source")?[attribute: "network"] ?? "",
                    mac: element.first("mac")?[attribute: "address"] ?? "",
                    model: element.first("model")?[attribute: "type"] ?? "virtio",
                    targetDev: element.first("target")?[attribute: "dev"],
                    mtu: element.first("mtu")?[attribute: "size"].flatMap { Int($0) })
                if Self(interfaces: [interface], memballoon: nil).tree.elements == [element] {
                    devices.interfaces.append(interface)
                    continue
                }
            case "serial", "console":
                let serial = DomainDefinition.Serial(type: element[attribute: "type"] ?? "pty",
                                                     sourcePath: element.first("source")?[attribute: "path"],
                                                     targetPort: element.first("target")?[attribute: "port"].flatMap { Int($0) },
                                                     logFile: element.first("log")?[attribute: "file"])
                if serial.tree(element: element.name) == element {
                    if element.name == "serial" { devices.serials.append(serial) } else { devices.consoles.append(serial) }
                    continue
                }
            case "memballoon" where element.elements.isEmpty && element.attributes.count == 1:
                devices.memballoon = element[attribute: "model"]
                continue
            default:
                break
            }
            devices.unmodeled.append(element)
        }
        self = devices
    }
}

extension DomainDefinition.Serial {
    func tree(element: String) -> XMLTree {
        var children: [XMLTree] = []
        if let path = sourcePath { children.append(XMLTree("source", [("path", path)])) }
        if let logFile { children.append(XMLTree("log", [("file", logFile), ("append", "on")])) }
        if let port = targetPort { children.append(XMLTree("target", [("port", String(port))])) }
        return XMLTree(element, [("type", type)], children: children.map { .element($0) })
    }
}
