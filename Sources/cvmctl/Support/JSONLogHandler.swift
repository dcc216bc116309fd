import Foundation
import Logging
import Synchronization
import TrafficManager

/// `--log-format json`: one JSON object a line on stderr, for journald or a log shipper:
/// `{"time":"2026-12-04T08:00:00.123Z","level":"info","label":"cvmctl","message":"…",
/// "source":"Orchestrator","metadata":{"cvm.name":"web-1"}}`. Keys in that order, metadata
/// flattened to strings (nested lists and dictionaries as their JSON), nothing else written.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    private let write: @Sendable (String) -> Void

    init(label: String, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.write = write
    }

    /// Writes whole lines to stderr, one write each (lines of concurrent tasks never interleave).
    static let standardError: @Sendable (String) -> Void = { line in
        line.utf8CString.withUnsafeBufferPointer { buffer in
            _ = Glibc.write(2, buffer.baseAddress, buffer.count - 1)
        }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var line = "{\"time\":\"\(Self.timestamp())\",\"level\":\"\(event.level.rawValue)\",\"label\":"
        Self.append(label, to: &line)
        line += ",\"message\":"
        Self.append(event.message.description, to: &line)
        line += ",\"source\":"
        Self.append(event.source, to: &line)
        if !merged.isEmpty {
            line += ",\"metadata\":{"
            for (index, key) in merged.keys.sorted().enumerated() {
                if index > 0 { line += "," }
                Self.append(key, to: &line)
                line += ":"
                Self.append(merged[key].map(Self.render) ?? "", to: &line)
            }
            line += "}"
        }
        line += "}\n"
        write(line)
    }

    private static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): return string
        case .stringConvertible(let convertible): return convertible.description
        case .array(let values):
            var out = "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                append(render(value), to: &out)
            }
            return out + "]"
        case .dictionary(let values):
            var out = "{"
            for (index, key) in values.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                append(key, to: &out)
                out += ":"
                append(values[key].map(render) ?? "", to: &out)
            }
            return out + "}"
        }
    }

    /// `value` as a JSON string (quotes, backslashes and control characters escaped).
    static func append(_ value: String, to out: inout String) {
        out += JSONText.quoted(value)
    }

    /// Now in UTC, ISO 8601 with milliseconds.
    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = Int(now.tv_nsec / 1_000_000)
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}
