import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Decides whether hardware virtualization really works here by running a one-instruction
/// guest (`hlt`) through /dev/kvm. Some hosts expose /dev/kvm but their KVM guests never
/// make progress (nested virtualization gone wrong); a capability check alone would pick
/// `kvm` there and every CVM would hang at boot.
public enum KVMProbe {
    public enum Result: String, Sendable {
        case usable, unavailable, hangs, failed
    }

    // ioctl numbers from <linux/kvm.h> (x86_64).
    private static let KVM_GET_API_VERSION: UInt = 0xAE00
    private static let KVM_CREATE_VM: UInt = 0xAE01
    private static let KVM_GET_VCPU_MMAP_SIZE: UInt = 0xAE04
    private static let KVM_CREATE_VCPU: UInt = 0xAE41
    private static let KVM_SET_USER_MEMORY_REGION: UInt = 0x4020_AE46
    private static let KVM_RUN: UInt = 0xAE80
    private static let KVM_SET_REGS: UInt = 0x4090_AE82
    private static let KVM_GET_SREGS: UInt = 0x8138_AE83
    private static let KVM_SET_SREGS: UInt = 0x4138_AE84
    private static let KVM_EXIT_HLT: UInt32 = 5

    /// Runs the probe with a deadline. The guest executes in a helper thread; if it has
    /// not halted by the deadline, KVM is declared hanging (the thread is interrupted with
    /// a signal so that KVM_RUN returns).
    public static func run(timeout: Double = 2.0) -> Result {
        guard access("/dev/kvm", R_OK | W_OK) == 0 else { return .unavailable }
        let outcome = ProbeOutcome()
        let done = DispatchSemaphore(value: 0)
        var threadID = pthread_t()
        // SIGUSR2 with an empty handler (no SA_RESTART) makes a blocked KVM_RUN return EINTR.
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        sigaction(SIGUSR2, &action, nil)
        let thread = Thread {
            outcome.set(probeOnce(), thread: pthread_self())
            done.signal()
        }
        thread.start()
        if done.wait(timeout: .now() + timeout) == .timedOut {
            if let t = outcome.thread { threadID = t; pthread_kill(threadID, SIGUSR2) }
            return .hangs
        }
        return outcome.result ?? .failed
    }

    private final class ProbeOutcome: @unchecked Sendable {
        // Written once by the probe thread before it signals; read after the wait.
        private let lock = NSLock()
        private var _result: Result?
        private var _thread: pthread_t?
        func set(_ r: Result, thread: pthread_t) { lock.lock(); _result = r; _thread = thread; lock.unlock() }
        var result: Result? { lock.lock(); defer { lock.unlock() }; return _result }
        var thread: pthread_t? { lock.lock(); defer { lock.unlock() }; return _thread }
    }

    private static func probeOnce() -> Result {
        let kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        guard kvm >= 0 else { return .unavailable }
        defer { close(kvm) }
        guard ioctl(kvm, KVM_GET_API_VERSION, 0) == 12 else { return .failed }
        let vm = ioctl(kvm, KVM_CREATE_VM, 0)
        guard vm >= 0 else { return .failed }
        defer { close(vm) }

        // One page of guest memory at 0x1000 holding `hlt`.
        let pageSize = 4096
        guard let mem = mmap(nil, pageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0),
              mem != MAP_FAILED else { return .failed }
        defer { munmap(mem, pageSize) }
        mem.storeBytes(of: 0xF4, as: UInt8.self)
        // struct kvm_userspace_memory_region { u32 slot; u32 flags; u64 guest_phys_addr; u64 memory_size; u64 userspace_addr; }
        var region = [UInt64](repeating: 0, count: 4)
        region[1] = 0x1000
        region[2] = UInt64(pageSize)
        region[3] = UInt64(UInt(bitPattern: mem))
        guard region.withUnsafeMutableBytes({ ioctl(vm, KVM_SET_USER_MEMORY_REGION, $0.baseAddress!) }) == 0 else { return .failed }

        let vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)
        guard vcpu >= 0 else { return .failed }
        defer { close(vcpu) }
        let runSize = Int(ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0))
        guard runSize > 0, let run = mmap(nil, runSize, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0),
              run != MAP_FAILED else { return .failed }
        defer { munmap(run, runSize) }

        // Real mode, CS base 0: struct kvm_sregs starts with cs (u64 base, u32 limit, u16 selector, ...).
        var sregs = [UInt8](repeating: 0, count: 312)
        guard sregs.withUnsafeMutableBytes({ ioctl(vcpu, KVM_GET_SREGS, $0.baseAddress!) }) == 0 else { return .failed }
        sregs.withUnsafeMutableBytes { p in
            p.storeBytes(of: UInt64(0), toByteOffset: 0, as: UInt64.self)
            p.storeBytes(of: UInt16(0), toByteOffset: 12, as: UInt16.self)
        }
        guard sregs.withUnsafeMutableBytes({ ioctl(vcpu, KVM_SET_SREGS, $0.baseAddress!) }) == 0 else { return .failed }
        // struct kvm_regs: 16 GPRs, rip, rflags.
        var regs = [UInt64](repeating: 0, count: 18)
        regs[16] = 0x1000
        regs[17] = 0x2
        guard regs.withUnsafeMutableBytes({ ioctl(vcpu, KVM_SET_REGS, $0.baseAddress!) }) == 0 else { return .failed }

        guard ioctl(vcpu, KVM_RUN, 0) == 0 else { return errno == EINTR ? .hangs : .failed }
        let exitReason = run.load(fromByteOffset: 8, as: UInt32.self)
        return exitReason == KVM_EXIT_HLT ? .usable : .failed
    }
}

/// The libvirt domain type to use on the local host: `kvm` when hardware virtualization
/// demonstrably runs our guests, otherwise `qemu` (TCG). Two stages: the cheap `/dev/kvm`
/// probe above, then — only if it passes — booting the image's kernel under KVM and
/// waiting for its banner (a host can pass the first and still hang real kernels). The
/// verdict is cached for the current boot of the machine.
public enum VirtTypeChooser {
    public static func choose(requested: String, cacheDirectory: String,
                              bootProbe: () -> String?) -> (type: String, reason: String) {
        if requested == "kvm" || requested == "qemu" { return (requested, "requested") }
        let bootID = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
        let cache = (cacheDirectory as NSString).appendingPathComponent("kvm-probe")
        if let cached = try? String(contentsOfFile: cache, encoding: .utf8) {
            let parts = cached.split(separator: " ", maxSplits: 1).map(String.init)
            if parts.count == 2, parts[0] == bootID {
                return (parts[1] == "usable" ? "kvm" : "qemu", "KVM probe (cached): \(parts[1])")
            }
        }
        var verdict = KVMProbe.run().rawValue
        if verdict == KVMProbe.Result.usable.rawValue, let problem = bootProbe() {
            verdict = problem
        }
        try? "\(bootID) \(verdict)".write(toFile: cache, atomically: true, encoding: .utf8)
        return (verdict == "usable" ? "kvm" : "qemu", "KVM probe: \(verdict)")
    }
}
