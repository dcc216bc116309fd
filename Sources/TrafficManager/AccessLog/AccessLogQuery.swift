import Foundation

/// A question to the access log: records of a time range, a vServer, a client address, an
/// outcome; at most `limit` of them, or only how many match (`countOnly`).
///
/// On the collector's wire, one line: `QUERY` then tab-separated `key=value` fields (values
/// escaped like the monitoring stream's names): `since`, `until` (Unix ms), `vserver`,
/// `client`, `outcome`, `limit`, `count` (`1`), `events` (`1`).
public struct AccessLogQuery: Sendable, Hashable {
    public var sinceMs: UInt64?
    public var untilMs: UInt64?
    public var vServer: String?
    public var client: String?
    public var outcome: AccessLogRecord.Outcome?
    public var limit: Int
    public var countOnly: Bool
    /// Whether the traffic manager's events (outcome `event`) count too; they do when
    /// `outcome` asks for them.
    public var includeEvents: Bool

    public static let maximumLimit = 100_000

    public init(sinceMs: UInt64? = nil, untilMs: UInt64? = nil, vServer: String? = nil, client: String? = nil,
                outcome: AccessLogRecord.Outcome? = nil, limit: Int = 1000, countOnly: Bool = false, includeEvents: Bool = false) {
        self.sinceMs = sinceMs
        self.untilMs = untilMs
        self.vServer = vServer
        self.client = client
        self.outcome = outcome
        self.limit = limit
        self.countOnly = countOnly
        self.includeEvents = includeEvents
    }

    public func matches(_ record: AccessLogRecord) -> Bool {
        if let sinceMs, record.timeMs < sinceMs { return false }
        if let untilMs, record.timeMs > untilMs { return false }
        if let vServer, record.vServer != vServer { return false }
        if let outcome, record.outcome != outcome { return false }
        if outcome == nil, !includeEvents, record.outcome == .event { return false }
        if let client, record.clientIP != Substring(client) { return false }
        return true
    }

    public var line: String {
        var fields = ["QUERY"]
        if let sinceMs { fields.append("since=\(sinceMs)") }
        if let untilMs { fields.append("until=\(untilMs)") }
        if let vServer { fields.append("vserver=" + MonitorStreamLine.escape(vServer)) }
        if let client { fields.append("client=" + MonitorStreamLine.escape(client)) }
        if let outcome { fields.append("outcome=\(outcome.rawValue)") }
        fields.append("limit=\(limit)")
        if countOnly { fields.append("count=1") }
        if includeEvents { fields.append("events=1") }
        return fields.joined(separator: "\t")
    }

    /// Parses a `QUERY` line (without its newline); the error says what is wrong.
    public init(line: Substring) throws(QueryError) {
        let fields = line.split(separator: "\t")
        guard fields.first == "QUERY", line.utf8.count <= 2048 else { throw QueryError("not a query") }
        self.init()
        for field in fields.dropFirst() {
            guard let equals = field.firstIndex(of: "=") else { throw QueryError("malformed field '\(field.prefix(40))'") }
            let key = field[..<equals], value = field[field.index(after: equals)...]
            switch key {
            case "since": sinceMs = try Self.number(value, key)
            case "until": untilMs = try Self.number(value, key)
            case "vserver": vServer = MonitorStreamLine.unescape(value)
            case "client": client = try Self.address(MonitorStreamLine.unescape(value) ?? "")
            case "outcome": outcome = try Self.outcome(String(value))
            case "limit":
                guard let number = Int(value), number >= 0, number <= Self.maximumLimit else {
                    throw QueryError("limit must be 0-\(Self.maximumLimit)")
                }
                limit = number
            case "count": countOnly = value == "1"
            case "events": includeEvents = value == "1"
            default: throw QueryError("unknown field '\(key.prefix(40))'")
            }
        }
    }

    private static func number(_ value: Substring, _ key: Substring) throws(QueryError) -> UInt64 {
        guard value.utf8.count <= 16, let number = UInt64(value), number < 1 << 53 else { throw QueryError("\(key) must be Unix milliseconds") }
        return number
    }

    // MARK: operator input

    /// An outcome by name (`served`, `spilled`, `redirected`, `refused`, `queued`, `timed-out`).
    public static func outcome(_ text: String) throws(QueryError) -> AccessLogRecord.Outcome {
        guard let outcome = AccessLogRecord.Outcome(rawValue: text) else {
            throw QueryError("unknown outcome '\(text.prefix(40))'; one of: \(AccessLogRecord.Outcome.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return outcome
    }

    /// A client address: an IPv4 or IPv6 literal.
    public static func address(_ text: String) throws(QueryError) -> String {
        var v4 = in_addr(), v6 = in6_addr()
        guard text.utf8.count <= 64, inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1 else {
            throw QueryError("'\(text.prefix(64))' is not an IP address (a client is an IPv4 or IPv6 literal, without port)")
        }
        return text
    }

    /// A point in time: a duration back from `now` (`90s`, `15m`, `2h`, `7d`) or an ISO 8601
    /// UTC time (`2026-12-03T18:00:00Z`).
    public static func time(_ text: String, now: Date = Date()) throws(QueryError) -> UInt64 {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let unit = text.last, let scale = units[unit], let amount = Double(text.dropLast()), amount.isFinite,
           amount >= 0, amount * scale < 100 * 365 * 86400 {
            return UInt64(max(0, (now.timeIntervalSince1970 - amount * scale) * 1000))
        }
        let formatter = ISO8601DateFormatter()
        if text.utf8.count <= 40, let date = formatter.date(from: text) ?? {
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.date(from: text)
        }(), date.timeIntervalSince1970 >= 0 {
            return UInt64(date.timeIntervalSince1970 * 1000)
        }
        throw QueryError("'\(text.prefix(40))' is not a time: give a duration back from now (90s, 15m, 2h, 7d) or an ISO 8601 time (2026-12-03T18:00:00Z)")
    }
}

public struct QueryError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
