/// What a CVM's data plane (image cvm-tms) reports in each heartbeat: whether it serves, and
/// its totals over all its vServers. Absent when the CVM runs no data plane.
///
/// Wire fields (all together, after `role`): `serving` (0/1), `active`, `opened`,
/// `servedBytes`, `spills`, and `config` (optional: 0 when absent); `rejected` and
/// `rejectReason` when the data plane refused the configuration it was sent.
public struct ServiceReport: Sendable, Equatable {
    /// The data plane runs and listens with the configuration the orchestrator sent.
    public var serving: Bool
    /// Connections open now.
    public var active: UInt64
    /// Connections accepted since the data plane started.
    public var opened: UInt64
    /// Bytes relayed both ways since it started.
    public var bytes: UInt64
    /// Connections it sent down its own backup chain.
    public var spills: UInt64
    /// Which configuration it runs: ``configDigest(of:)`` of the text it loaded last (0:
    /// unknown). `serve` waits for the one it sent, not just for "serving": a data plane that
    /// served before keeps saying so while it reloads.
    public var config: UInt64
    /// The digest of a configuration the data plane refused to load (0: none), and why, in
    /// its words: at most ``maxReasonBytes`` of printable text (a guest's words are shown to
    /// operators, so they are bounded and stripped of control characters whatever it sent).
    public var rejected: UInt64
    public var rejectReason: String

    public static let maxReasonBytes = 240

    public init(serving: Bool, active: UInt64 = 0, opened: UInt64 = 0, bytes: UInt64 = 0, spills: UInt64 = 0, config: UInt64 = 0,
                rejected: UInt64 = 0, rejectReason: String = "") {
        self.serving = serving
        self.active = active
        self.opened = opened
        self.bytes = bytes
        self.spills = spills
        self.config = config
        self.rejected = rejected
        self.rejectReason = rejected == 0 ? "" : Self.sanitized(rejectReason)
    }

    /// `text` as one printable line of at most ``maxReasonBytes`` bytes (control characters
    /// become spaces; a cut never splits a character).
    public static func sanitized(_ text: String) -> String {
        var out = ""
        var bytes = 0
        for scalar in text.unicodeScalars {
            let kept: Unicode.Scalar = scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) ? " " : scalar
            let size = String(kept).utf8.count
            guard bytes + size <= maxReasonBytes else { break }
            out.unicodeScalars.append(kept)
            bytes += size
        }
        while out.last == " " { out.removeLast() }
        return String(out.drop { $0 == " " })
    }

    /// The first 8 bytes of the SHA-256 of a configuration text, as a number (never 0).
    public static func configDigest(of text: String) -> UInt64 {
        let digest = SHA256.hash(Array(text.utf8)).prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return digest == 0 ? 1 : digest
    }

    /// Parses the status line cvm-tms writes: `serving=1 connections=N opened=N bytes=N spills=N`.
    /// Unknown keys are skipped; a missing or malformed `serving` gives nil.
    public init?(statusLine: String) {
        var values: [Substring: UInt64] = [:]
        for pair in statusLine.prefix(512).split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[1].utf8.count <= 20, let value = UInt64(parts[1]) else { continue }
            values[parts[0]] = value
        }
        guard let serving = values["serving"], serving <= 1 else { return nil }
        self.init(serving: serving == 1, active: values["connections"] ?? 0, opened: values["opened"] ?? 0,
                  bytes: values["bytes"] ?? 0, spills: values["spills"] ?? 0, config: values["config"] ?? 0,
                  rejected: values["rejected"] ?? 0)
    }

    var fields: [WireMessage.Field] {
        [.init("serving", serving ? "1" : "0"), .init("active", String(active)), .init("opened", String(opened)),
         .init("servedBytes", String(bytes)), .init("spills", String(spills))] + (config == 0 ? [] : [.init("config", String(config))])
            + (rejected == 0 ? [] : [.init("rejected", String(rejected)), .init("rejectReason", rejectReason)])
    }

    /// Reads the fields from a heartbeat; nil when it carries none.
    static func read(_ message: WireMessage) throws -> ServiceReport? {
        guard let serving = message["serving"] else { return nil }
        guard serving == "0" || serving == "1" else { throw WireError(.invalidField, key: "serving", "expected 0 or 1") }
        return ServiceReport(serving: serving == "1", active: try message.requireUInt64("active"),
                             opened: try message.requireUInt64("opened"), bytes: try message.requireUInt64("servedBytes"),
                             spills: try message.requireUInt64("spills"),
                             config: message["config"] == nil ? 0 : try message.requireUInt64("config"),
                             rejected: message["rejected"] == nil ? 0 : try message.requireUInt64("rejected"),
                             rejectReason: message["rejectReason"] ?? "")
    }
}
