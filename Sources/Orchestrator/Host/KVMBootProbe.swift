import Libvirt
import Foundation

/// Boots a kernel under KVM in a throwaway transient domain (autodestroyed with the
/// connection) with its serial console in a file, and reports whether the kernel printed
/// its banner in time. KVM guests that make no progress never print it.
enum KVMBootProbe {
    /// Nil when the kernel printed its banner under KVM; otherwise why KVM is not used.
    static func run(connection: LibvirtConnection, kernel: String, workDirectory: String,
                    timeout: Double = 5) -> String? {
        let log = (workDirectory as NSString).appendingPathComponent("kvm-probe-\(getpid()).log")
        try? FileManager.default.removeItem(atPath: log)
        defer { try? FileManager.default.removeItem(atPath: log) }
        let definition = DomainDefinition(
            type: "kvm", name: "cvm-kvm-probe-\(getpid())", memoryKiB: 128 * 1024, vcpus: 1,
            os: .init(kernel: kernel, cmdline: "console=ttyS0 panic=-1 earlyprintk=ttyS0"),
            devices: .init(serials: [.init(type: "file", sourcePath: log)]))
        let domain: LibvirtDomain
        do {
            domain = try connection.createAutodestroyDomain(xml: definition.xml)
        } catch let error as LibvirtError {
            return "a KVM guest cannot start (\(error.message))"
        } catch {
            return "a KVM guest cannot start (\(error))"
        }
        defer { try? domain.destroy() }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: log, encoding: .utf8), text.contains("Linux version") { return nil }
            usleep(100_000)
        }
        return "kernel hangs under KVM"
    }
}
