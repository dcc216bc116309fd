import Glibc

/// Ending the machine's life, the only way PID 1 may end.
enum PowerControl {
    /// Syncs file systems and powers the VM off. Never returns: if the reboot call fails,
    /// PID 1 logs it and sleeps forever (exiting would panic the kernel). When the agent
    /// is not PID 1 (run by hand for debugging) it exits instead of touching the machine.
    static func powerOff(isInit: Bool) -> Never {
        sync()
        guard isInit else {
            Console.log("not PID 1: exiting instead of powering off")
            exit(0)
        }
        let failure = Syscalls.powerOff()
        Console.log("power off failed: \(Console.errnoText(failure))")
        Boot.idleForever()
    }
}
