import ConfigFile

/// An image's manifest (`images/<name>/manifest.yaml`): what the image is, what it can run
/// and how to boot it. Artifact checksums are not in it: they come from the lock the
/// build writes (``ImageLock``), because the recipe resolves Debian's current kernel.
public struct ImageManifest: Sendable, Equatable {
    public struct Defaults: Sendable, Equatable {
        public var vcpus: Int
        public var memoryMiB: Int
        public var diskMiB: Int
    }
    public struct Boot: Sendable, Equatable {
        /// Only `direct-kernel` for now: libvirt boots `kernel` with `initrd` and `cmdline`.
        public var method: String
        public var cmdline: String
    }
    public struct Artifact: Sendable, Equatable {
        public var name: String
        public var file: String
    }

    public var name: String
    public var version: String
    public var description: String
    public var tasks: [String]
    /// Domain types it runs under: `kvm`, `qemu`.
    public var hypervisors: [String]
    public var defaults: Defaults
    public var boot: Boot
    public var artifacts: [Artifact]
    public var recipe: String

    public func artifact(_ name: String) -> Artifact? { artifacts.first { $0.name == name } }
}

extension ImageManifest {
    static let knownHypervisors: Set = ["kvm", "qemu"]

    /// Reads, parses and validates a manifest (a file larger than 1 MiB or nested more than
    /// 64 levels deep is refused before parsing).
    /// - Throws: `ConfigFileError` naming the file, line, column and field.
    public static func load(file: String) throws -> ImageManifest {
        try parse(YAMLReader.load(file: file))
    }

    /// Parses and validates a manifest's text (`file` names it in errors).
    /// - Throws: `ConfigFileError` naming the file, line, column and field.
    public static func parse(_ text: String, file: String) throws -> ImageManifest {
        try parse(YAMLReader.parse(text, file: file))
    }

    static func parse(_ doc: YAMLReader) throws(ConfigFileError) -> ImageManifest {
        try doc.expectOnly(["name", "version", "description", "tasks", "hypervisors", "defaults",
                            "boot", "artifacts", "recipe"])
        let name = try doc.string("name")
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
            throw doc.error("name", "may contain only letters, digits, '-', '_' and '.'", at: doc.value("name"))
        }
        let hypervisors = try doc.stringList("hypervisors")
        if let bad = hypervisors.first(where: { !knownHypervisors.contains($0) }) {
            throw doc.error("hypervisors", "unknown hypervisor kind '\(bad)' (known: kvm, qemu)", at: doc.value("hypervisors"))
        }
        let d = try doc.submapping("defaults")
        try d.expectOnly(["vcpus", "memoryMiB", "diskMiB"])
        let b = try doc.submapping("boot")
        try b.expectOnly(["method", "cmdline"])
        let method = try b.string("method")
        guard method == "direct-kernel" else {
            throw b.error("method", "unsupported boot method '\(method)' (supported: direct-kernel)", at: b.value("method"))
        }
        var artifacts: [Artifact] = []
        for a in try doc.mappings("artifacts") {
            try a.expectOnly(["name", "file"])
            let file = try a.string("file")
            guard !file.contains("/"), file != "..", file != "." else {
                throw a.error("file", "must be a plain file name inside the build folder", at: a.value("file"))
            }
            artifacts.append(Artifact(name: try a.string("name"), file: file))
        }
        for required in ["kernel", "initrd"] where !artifacts.contains(where: { $0.name == required }) {
            throw doc.error("artifacts", "the \(required) artifact is required for direct-kernel boot", at: doc.value("artifacts"))
        }
        return ImageManifest(
            name: name,
            version: try doc.string("version"),
            description: try doc.optionalString("description") ?? "",
            tasks: try doc.stringList("tasks"),
            hypervisors: hypervisors,
            defaults: Defaults(vcpus: try d.int("vcpus", in: 1...64),
                               memoryMiB: try d.int("memoryMiB", in: 32...65536),
                               diskMiB: try d.int("diskMiB", in: 1...1_048_576)),
            boot: Boot(method: method, cmdline: try b.string("cmdline")),
            artifacts: artifacts,
            recipe: try doc.string("recipe"))
    }
}
