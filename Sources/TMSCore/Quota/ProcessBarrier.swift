#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A process-wide memory barrier: when `synchronize()` returns, every other thread of the
/// process has executed a full memory barrier since it was called (Linux `membarrier(2)`,
/// `MEMBARRIER_CMD_PRIVATE_EXPEDITED`, the kernel interrupting the CPUs that run the
/// process's threads).
///
/// Why: it lets a core's thread admit and release with plain loads and stores — no locked
/// instruction on the fast path — while the rare other writers of the core's word (the
/// publisher of a new limit, a thread serving a waiter) still synchronize with it
/// (`VServerQuota.intruding`): the classic asymmetric barrier (one side plain, the other
/// side heavy), as in folly's `asymmetricHeavyBarrier` and userspace RCU.
///
/// Where the system offers no such barrier (not Linux, an old kernel, a seccomp filter that
/// blocks the call) `isAvailable` is false and the quota keeps its fast paths on atomic
/// read-modify-writes.
enum ProcessBarrier {
    /// Whether `synchronize()` works in this process. The first read registers the process
    /// with the kernel (required once before the expedited command may be used).
    static let isAvailable: Bool = register()

    /// Issues the barrier. Only valid when `isAvailable` is true; takes microseconds (it
    /// interrupts the process's running threads), so only the control plane calls it.
    static func synchronize() {
        #if os(Linux)
        let result = membarrier(command: privateExpedited)
        precondition(result == 0, "membarrier(PRIVATE_EXPEDITED) failed after registration: errno \(errno)")
        #else
        preconditionFailure("no process-wide barrier on this platform")
        #endif
    }

    #if os(Linux)
    // <linux/membarrier.h>
    private static let query = 0
    private static let privateExpedited = 1 << 3
    private static let registerPrivateExpedited = 1 << 4

    /// `syscall(2)` is variadic, so Swift cannot import it; glibc's and musl's
    /// implementations read their arguments from the integer registers exactly as a
    /// non-variadic function with this signature receives them (x86-64 and AArch64 SysV).
    private typealias Syscall = @convention(c) (Int, Int, Int, Int) -> Int

    private static let syscall: Syscall? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "syscall") else { return nil }
        return unsafeBitCast(symbol, to: Syscall.self)
    }()

    private static var number: Int {
        #if arch(x86_64)
        return 324
        #elseif arch(arm64)
        return 283
        #else
        return -1
        #endif
    }

    private static func membarrier(command: Int) -> Int {
        guard number >= 0, let syscall else { return -1 }
        return syscall(number, command, 0, 0)
    }

    private static func register() -> Bool {
        let supported = membarrier(command: query)
        guard supported >= 0, supported & privateExpedited != 0, supported & registerPrivateExpedited != 0
        else { return false }
        return membarrier(command: registerPrivateExpedited) == 0
    }
    #else
    private static func register() -> Bool { false }
    #endif
}
