/// One record of the access log: a client connection from accept to close (see
/// ``AccessLogConfig``).
///
/// As text (the local file, the spool, the stream to a collector and its segments), one line of
/// tab-separated fields, names percent-encoded like the monitoring stream's, at most
/// ``maximumLength`` bytes:
///
///     <timeMs> <vServer> <core> <client> <target> <bytesIn> <bytesOut> <durationUs> <outcome>
///
/// `timeMs` is when the connection ended (Unix milliseconds); `target` is the service that
/// served it, as `service` on the vServer the client connected to and `backup/service` on a
/// backup, or `-`. The traffic manager's events are records too, of outcome `event`.
public struct AccessLogRecord: Sendable, Hashable {
    public enum Outcome: String, Sendable, CaseIterable {
        /// Relayed by a service of the vServer the client connected to.
        case served
        /// Relayed by a service of a backup vServer.
        case spilled
        /// Answered with the end of chain's redirect (HTTP).
        case redirected
        /// Refused at the end of the chain, or no service accepted it.
        case refused
        /// Waited in a quota queue, then was relayed.
        case queued
        /// Closed by the idle timeout, or its wait in a queue ran out with nowhere to go.
        case timedOut = "timed-out"
        /// Not a connection: one of the traffic manager's events (a service down or up, a
        /// reload, a full spool, ...); `target` holds its text, `vServer` the vServer it names
        /// (or `-`), `client` the level.
        case event
    }

    /// An event of the traffic manager as a record.
    public static func event(_ text: String, vServer: String?, level: String, timeMs: UInt64) -> AccessLogRecord {
        AccessLogRecord(timeMs: timeMs, vServer: vServer ?? "-", core: 0, client: level, target: text,
                        bytesIn: 0, bytesOut: 0, durationUs: 0, outcome: .event)
    }

    public var timeMs: UInt64
    public var vServer: String
    public var core: Int
    public var client: String
    public var target: String
    public var bytesIn: Int
    public var bytesOut: Int
    public var durationUs: Int
    public var outcome: Outcome

    public static let maximumLength = 1024

    public init(timeMs: UInt64, vServer: String, core: Int, client: String, target: String,
                bytesIn: Int, bytesOut: Int, durationUs: Int, outcome: Outcome) {
        self.timeMs = timeMs
        self.vServer = vServer
        self.core = core
        self.client = client
        self.target = target
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.durationUs = durationUs
        self.outcome = outcome
    }

    /// The record's line, without its newline; names cut so the line stays within bounds.
    public var line: String {
        [String(timeMs), Self.escape(vServer, limit: 256), String(core), Self.escape(client, limit: 64),
         Self.escape(target, limit: 512), String(bytesIn), String(bytesOut), String(durationUs), outcome.rawValue]
            .joined(separator: "\t")
    }

    /// Parses one line (without its newline); nil when malformed.
    public init?(line: Substring) {
        guard line.utf8.count <= Self.maximumLength else { return nil }
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard fields.count == 9, let time = Self.number(fields[0]), let core = Self.number(fields[2]), core < 4096,
              let bytesIn = Self.number(fields[5]), let bytesOut = Self.number(fields[6]),
              let duration = Self.number(fields[7]), let outcome = Outcome(rawValue: String(fields[8])),
              let vServer = MonitorStreamLine.unescape(fields[1]), let client = MonitorStreamLine.unescape(fields[3]),
              let target = MonitorStreamLine.unescape(fields[4]) else { return nil }
        self.init(timeMs: UInt64(time), vServer: vServer, core: core, client: client, target: target,
                  bytesIn: bytesIn, bytesOut: bytesOut, durationUs: duration, outcome: outcome)
    }

    /// The client's address without its port.
    public var clientIP: Substring {
        if client.hasPrefix("[") { return client.dropFirst().prefix { $0 != "]" } }
        guard let colon = client.lastIndex(of: ":"), client.firstIndex(of: ":") == colon else { return Substring(client) }
        return client[..<colon]
    }

    /// The record as one JSON object.
    public var json: String {
        "{\"time\":\(timeMs),\"vServer\":\(Self.jsonString(vServer)),\"core\":\(core),\"client\":\(Self.jsonString(client)),"
            + "\"target\":\(Self.jsonString(target)),\"bytesIn\":\(bytesIn),\"bytesOut\":\(bytesOut),"
            + "\"durationUs\":\(durationUs),\"outcome\":\"\(outcome.rawValue)\"}"
    }

    /// A non-negative decimal below 2^53.
    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 16, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let value = Int(text), value < 1 << 53 else { return nil }
        return value
    }

    private static func escape(_ text: String, limit: Int) -> String {
        let escaped = MonitorStreamLine.escape(text)
        guard escaped.utf8.count > limit else { return escaped }
        // Cut on a whole character, never inside `%XX`.
        var cut = "", length = 0
        for scalar in escaped.unicodeScalars {
            let size = String(scalar).utf8.count
            guard length + size <= limit else { break }
            cut.unicodeScalars.append(scalar)
            length += size
        }
        if let percent = cut.utf8.lastIndex(of: 0x25), cut.utf8.distance(from: percent, to: cut.utf8.endIndex) < 3 {
            cut = String(cut[..<percent])
        }
        return cut
    }

    static func jsonString(_ text: String) -> String { JSONText.quoted(text) }
}
