import Glibc

// Two calls the static Swift runtime makes before `main` misbehave in a CVM: when the agent
// is /init, and for the programs it starts early in the boot (the cvm-tms data plane). The
// image recipe links both with
//   -Xlinker --wrap=swift_copyAuxiliaryExecutablePath -Xlinker --wrap=swift_stdlib_random
// which routes the runtime's calls to the two functions below. In builds without those
// linker flags (debug builds, tests, cvmctl) the functions are never called.

/// Replaces `swift_copyAuxiliaryExecutablePath`.
///
/// Why: the backtracer initialises in a static constructor and looks for its
/// `swift-backtrace` helper next to the runtime. In a static binary that lookup goes
/// through dladdr(), which needs /proc — not mounted yet when /init starts — so the
/// runtime aborts ("Unable to obtain Swift runtime path") and the kernel panics. No helper
/// exists in the guest, so "none" is the true answer; the runtime then runs without its
/// out-of-process backtracer.
@_cdecl("__wrap_swift_copyAuxiliaryExecutablePath")
func cvmNoAuxiliaryExecutable(_ name: UnsafePointer<CChar>?) -> UnsafeMutablePointer<CChar>? {
    nil
}

@_silgen_name("getrandom")
private func glibcGetrandom(_ buffer: UnsafeMutableRawPointer?, _ length: Int, _ flags: UInt32) -> Int

/// Replaces `swift_stdlib_random` (the source of `Hasher` seeds and
/// `SystemRandomNumberGenerator`).
///
/// Why: the runtime seeds its hashing at start-up with getrandom(flags: 0), which blocks
/// until the kernel's CRNG is initialised — about a second after /init starts on a TCG
/// guest with no hardware RNG, so every boot waited for it. GRND_INSECURE (Linux 5.6+)
/// returns at once. The agent uses no runtime randomness for secrets (its keys come from
/// the host), so hash seeds drawn before the CRNG is ready are acceptable; nor does the data
/// plane (no TLS inside the CVM), which the agent starts right after boot and which would
/// otherwise sit in getrandom for seconds before it can serve.
@_cdecl("__wrap_swift_stdlib_random")
func cvmStdlibRandom(_ buffer: UnsafeMutableRawPointer?, _ length: Int) {
    guard let buffer, length > 0 else { return }
    let insecure: UInt32 = 0x0004  // GRND_INSECURE
    var flags = insecure
    var offset = 0
    while offset < length {
        let got = glibcGetrandom(buffer + offset, min(length - offset, 256), flags)
        if got > 0 {
            offset += got
        } else if got < 0 && errno == EINVAL && flags == insecure {
            flags = 0  // kernel older than 5.6: wait for the CRNG like the runtime would
        } else if got < 0 && errno != EINTR {
            fatalError("getrandom failed: errno \(errno)")
        }
    }
}
