import Glibc

/// Loads the kernel modules shipped in the initramfs, in the order the image recipe wrote.
///
/// `/lib/modules/load.order` lists one file name per line (relative to /lib/modules/,
/// `#` comments allowed), dependencies first: the image has no modules.dep and the agent no
/// module tooling. Modules are uncompressed `.ko` files (the recipe decompresses them).
enum ModuleLoader {
    static let directory = "/lib/modules"

    /// Loads every module in order. A module that is already loaded (EEXIST) counts as
    /// loaded; any other failure is logged and loading goes on.
    /// - Returns: the number of modules that failed to load.
    @discardableResult
    static func loadAll() -> Int {
        guard let order = FileIO.readText("\(directory)/load.order") else {
            Console.log("no \(directory)/load.order: loading no modules")
            return 0
        }
        var failures = 0
        for rawLine in order.split(separator: "\n") {
            let name = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .filter { $0 != " " && $0 != "\t" && $0 != "\r" }
            guard !name.isEmpty else { continue }
            if let failure = load("\(directory)/\(name)") {
                failures += 1
                Console.log("module \(name): \(failure)")
            }
        }
        return failures
    }

    /// Loads one module. Returns nil on success, otherwise why it failed.
    private static func load(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "open failed: \(Console.errnoText())" }
        defer { close(fd) }
        let result = Syscalls.finitModule(fd: fd)
        if result == 0 || result == EEXIST { return nil }
        return "finit_module failed: \(Console.errnoText(result))"
    }
}
