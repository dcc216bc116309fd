import Glibc

/// What the agent does first as PID 1: the kernel file systems and the console.
enum SystemSetup {
    private struct Mount {
        let source: String
        let target: String
        let type: String
        let flags: UInt
        let options: String?
    }

    private static let mounts = [
        Mount(source: "proc", target: "/proc", type: "proc", flags: UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), options: nil),
        Mount(source: "sysfs", target: "/sys", type: "sysfs", flags: UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), options: nil),
        Mount(source: "devtmpfs", target: "/dev", type: "devtmpfs", flags: UInt(MS_NOSUID), options: "mode=0755"),
        Mount(source: "tmpfs", target: "/tmp", type: "tmpfs", flags: UInt(MS_NOSUID | MS_NODEV), options: "mode=1777,size=8m"),
    ]

    /// Mounts /proc, /sys, /dev (devtmpfs) and /tmp. A failure is logged and the agent goes
    /// on: what depends on the mount will report zeros or retry.
    /// - Returns: the number of mounts that failed.
    @discardableResult
    static func mountKernelFileSystems() -> Int {
        var failures = 0
        for entry in mounts {
            mkdir(entry.target, 0o755)
            let result: Int32
            if let options = entry.options {
                result = mount(entry.source, entry.target, entry.type, entry.flags, options)
            } else {
                result = mount(entry.source, entry.target, entry.type, entry.flags, nil)
            }
            if result != 0 && errno != EBUSY {
                failures += 1
                Console.log("mount \(entry.target) failed: \(Console.errnoText())")
            }
        }
        Console.attachIfMissing()
        return failures
    }
}
