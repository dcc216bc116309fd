/// What a CVM's data plane (image cvm-tms) reports in each heartbeat: whether it serves, and
/// its totals over all its vServers. Absent when the CVM runs no data plane.
///
/// Wire fields (all together, after `role`): `serving` (0/1), `active`, `opened`,
/// `servedBytes`, `spills`, and `config` (optional: 0 when absent).
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

    public init(serving: Bool, active: UInt64 = 0, opened: UInt64 = 0, bytes: UInt64 = 0, spills: UInt64 = 0, config: UInt64 = 0) {
        self.serving = serving
        self.active = active
        self.opened = opened
        self.bytes = bytes
        self.spills = spills
        self.config = config
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
                  bytes: values["bytes"] ?? 0, spills: values["spills"] ?? 0, config: values["config"] ?? 0)
    }

    var fields: [WireMessage.Field] {
        [.init("serving", serving ? "1" : "0"), .init("active", String(active)), .init("opened", String(opened)),
         .init("servedBytes", String(bytes)), .init("spills", String(spills))] + (config == 0 ? [] : [.init("config", String(config))])
    }

    /// Reads the fields from a heartbeat; nil when it carries none.
    static func read(_ message: WireMessage) throws -> ServiceReport? {
        guard let serving = message["serving"] else { return nil }
        guard serving == "0" || serving == "1" else { throw WireError(.invalidField, key: "serving", "expected 0 or 1") }
        return ServiceReport(serving: serving == "1", active: try message.requireUInt64("active"),
                             opened: try message.requireUInt64("opened"), bytes: try message.requireUInt64("servedBytes"),
                             spills: try message.requireUInt64("spills"),
                             config: message["config"] == nil ? 0 : try message.requireUInt64("config"))
    }
}
