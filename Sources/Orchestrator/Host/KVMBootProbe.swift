import Foundation

/// Boots a kernel under KVM in a throwaway transient domain (autodestroyed with the
/// connection) with its serial console in a file, and reports whether the kernel printed
/// its banner in time. KVM guests that make no progress never print it.
enum KVMBootProbe {
    static func run(connection: LibvirtConnection, kernel: String, workDirectory: String,
                    timeout: Double = 5) -> Bool {
        let log = (workDirectory as NSString).appendingPathComponent("kvm-probe-\(getpid()).log")
        try? FileManager.default.removeItem(atPath: log)
        defer { try? FileManager.default.removeItem(atPath: log) }
        let definition = DomainDefinition(
            type: "kvm", name: "cvm-kvm-probe-\(getpid())", memoryKiB: 128 * 1024, vcpus: 1,
            os: .init(kernel: kernel, cmdline: "console=ttyS0 panic=-1 earlyprintk=ttyS0"),
            devices: .init(serials: [.init(type: "file", sourcePath: log)]))
        guard let domain = try? connection.createAutodestroyDomain(xml: definition.xml) else { return false }
        defer { try? domain.destroy() }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: log, encoding: .utf8), text.contains("Linux version") { return true }
            usleep(100_000)
        }
        return false
    }
}
