import CVMProtocol

/// A test hook that turns the agent into a hostile guest: `cvm.flood=garbage`,
/// `cvm.flood=signed` or `cvm.flood=mixed` on the kernel command line makes it flood its
/// channel — unparseable and over-long lines, validly signed heartbeats as fast as the port
/// takes them, or both in turn — besides its regular heartbeats. The host must stay unaffected (the flood test of the integration
/// suite sets it through a copied image manifest). A guest is untrusted anyway: this gives
/// it nothing it could not do by itself.
enum FloodMode: Equatable {
    case garbage
    case signed
    case mixed

    static func fromKernelCommandLine(_ text: String? = FileIO.readText("/proc/cmdline")) -> FloodMode? {
        for word in (text ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            switch word {
            case "cvm.flood=garbage": return .garbage
            case "cvm.flood=signed": return .signed
            case "cvm.flood=mixed": return .mixed
            default: continue
            }
        }
        return nil
    }

    /// Lines for one burst of garbage: short junk, a line the host cannot parse, and a line
    /// longer than any the host accepts.
    static func garbageBurst(counter: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        for i in 0..<32 {
            bytes += Array("HB not-a-heartbeat \(counter) \(i) \u{1}\u{7f}\u{ff}\n".utf8)
        }
        bytes += [UInt8](repeating: UInt8(ascii: "A"), count: 70_000) + [UInt8(ascii: "\n")]
        return bytes
    }
}
