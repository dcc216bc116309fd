import Glibc

// glibc declares `syscall` as variadic (`long syscall(long, ...)`), and Swift does not
// import variadic C functions. On x86_64 the variadic and the fixed-argument calling
// conventions pass integer arguments in the same registers, and glibc's `syscall` is an
// assembly trampoline that never uses va_arg, so binding the symbol with fixed integer
// arguments (pointers passed as their bit patterns) is sound there. The agent is built for
// x86_64 guests only.
@_silgen_name("syscall")
private func rawSyscall(_ number: Int, _ a1: Int, _ a2: Int, _ a3: Int) -> Int

// <sys/reboot.h> is not part of Swift's Glibc module; `int reboot(int)` is an ordinary
// (non-variadic) C function, so it can be bound directly.
@_silgen_name("reboot")
private func glibcReboot(_ command: Int32) -> Int32

/// Thin wrappers for the system calls Swift's Glibc module does not expose.
enum Syscalls {
    /// x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl).
    private static let finitModuleNumber = 313
    private static let getrandomNumber = 318
    /// GRND_INSECURE (Linux 5.6+): never blocks, even before the CRNG is seeded.
    private static let getrandomInsecure = 0x0004

    /// Loads the kernel module open at `fd` with no parameters.
    /// - Returns: 0 or the errno of the failure.
    static func finitModule(fd: Int32) -> Int32 {
        let noParameters: StaticString = ""
        let result = rawSyscall(finitModuleNumber, Int(fd),
                                Int(bitPattern: UnsafeRawPointer(noParameters.utf8Start)), 0)
        return result == 0 ? 0 : errno
    }

    /// RB_POWER_OFF from <sys/reboot.h> (LINUX_REBOOT_CMD_POWER_OFF).
    private static let powerOffCommand = Int32(bitPattern: 0x4321_FEDC)

    /// Powers the machine off at once (no init system to notify). Only returns on failure,
    /// with the errno.
    static func powerOff() -> Int32 {
        glibcReboot(powerOffCommand) == 0 ? 0 : errno
    }

    private static let ioctlNumber = 16

    /// `ioctl(fd, request, argument)` for requests that take a pointer (glibc's `ioctl` is
    /// variadic too). - Returns: 0 or the errno of the failure.
    static func ioctl(_ fd: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) -> Int32 {
        rawSyscall(ioctlNumber, Int(fd), Int(bitPattern: request), Int(bitPattern: argument)) == 0 ? 0 : errno
    }

    /// Eight random bytes for the boot nonce; falls back to time and pid if the call fails.
    static func randomUInt64() -> UInt64 {
        var value: UInt64 = 0
        let got = withUnsafeMutableBytes(of: &value) { buffer in
            rawSyscall(getrandomNumber, Int(bitPattern: buffer.baseAddress), 8, getrandomInsecure)
        }
        if got == 8 && value != 0 { return value }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(bitPattern: Int64(now.tv_nsec)) &* 0x9E37_79B9_7F4A_7C15
            ^ UInt64(bitPattern: Int64(now.tv_sec)) ^ UInt64(getpid())
    }
}
