/// `<pool type='dir'>`: the directory on a host that holds CVM volumes.
public struct StoragePoolDefinition: Sendable, Equatable {
    public var name: String
    public var path: String
    public var mode: String = "0700"

    package init(name: String, path: String, mode: String = "0700") {
        self.name = name
        self.path = path
        self.mode = mode
    }

    public var xml: String {
        XMLTree("pool", [("type", "dir")], children: [
            .element(XMLTree("name", text: name)),
            .element(XMLTree("target", children: [
                .element(XMLTree("path", text: path)),
                .element(XMLTree("permissions", children: [.element(XMLTree("mode", text: mode))])),
            ])),
        ]).rendered()
    }
}

/// `<volume>`: one CVM disk or per-CVM initrd.
public struct StorageVolumeDefinition: Sendable, Equatable {
    public var name: String
    public var capacityBytes: UInt64
    /// `qcow2` for disks, `raw` for the per-CVM initrd.
    public var format: String
    /// 0600: the per-CVM initrd holds the CVM's secret.
    public var mode: String = "0600"

    package init(name: String, capacityBytes: UInt64, format: String, mode: String = "0600") {
        self.name = name
        self.capacityBytes = capacityBytes
        self.format = format
        self.mode = mode
    }

    public var xml: String {
        XMLTree("volume", children: [
            .element(XMLTree("name", text: name)),
            .element(XMLTree("capacity", [("unit", "bytes")], text: String(capacityBytes))),
            .element(XMLTree("target", children: [
                .element(XMLTree("format", [("type", format)])),
                .element(XMLTree("permissions", children: [.element(XMLTree("mode", text: mode))])),
            ])),
        ]).rendered()
    }
}
