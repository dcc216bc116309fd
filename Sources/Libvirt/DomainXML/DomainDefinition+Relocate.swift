extension XMLTree {
    /// Sets (or adds) an attribute.
    public mutating func setAttribute(_ key: String, _ value: String) {
        if let i = attributes.firstIndex(where: { $0.0 == key }) { attributes[i].1 = value } else { attributes.append((key, value)) }
    }

    /// Applies `change` to the first child element named `name`.
    public mutating func updateFirst(_ name: String, _ change: (inout XMLTree) -> Void) {
        for i in children.indices {
            if case .element(var e) = children[i], e.name == name {
                change(&e)
                children[i] = .element(e)
                return
            }
        }
    }
}

extension DomainDefinition {
    /// Points the definition at the files a CVM has on another host: kernel, initrd, and
    /// each disk by target device (typed or kept verbatim from a live document).
    public mutating func relocate(kernel: String, initrd: String, disks: [String: String], consoleLog: String? = nil) {
        os.kernel = kernel
        os.initrd = initrd
        if let consoleLog {
            for i in devices.serials.indices where devices.serials[i].logFile != nil { devices.serials[i].logFile = consoleLog }
            for i in devices.unmodeled.indices where devices.unmodeled[i].name == "serial" && devices.unmodeled[i].first("log") != nil {
                devices.unmodeled[i].updateFirst("log") { $0.setAttribute("file", consoleLog) }
            }
        }
        for i in devices.disks.indices {
            if let path = disks[devices.disks[i].targetDev] { devices.disks[i].sourceFile = path }
        }
        for i in devices.unmodeled.indices where devices.unmodeled[i].name == "disk" {
            guard let dev = devices.unmodeled[i].first("target")?[attribute: "dev"], let path = disks[dev] else { continue }
            devices.unmodeled[i].updateFirst("source") { $0.setAttribute("file", path) }
        }
    }
}
