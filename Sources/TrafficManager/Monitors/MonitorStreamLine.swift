/// One line of the monitoring stream (see ``MonitoringConfig``), UTF-8, `\n`-terminated, at
/// most ``maximumLength`` bytes, fields separated by tabs:
///
///     S <vServer> <service> <up 0|1> <lastMs|-> <averageMs|-> <samples> [<probes>]
///     E <count>
///
/// `S` is one service's state; `probes` (optional) counts the probes the publisher started on
/// that service since its monitor started, so a follower can count the work done for it; `E` ends a full snapshot of `count` states. Names are
/// percent-encoded (`%`, tab, CR, LF and bytes below 0x20). A follower applies `S` lines as
/// they come and counts the stream alive on each `E`. Anything malformed is refused whole.
public enum MonitorStreamLine: Sendable, Hashable {
    case state(MonitorState)
    case end(count: Int)

    public static let maximumLength = 1024

    public var text: String {
        switch self {
        case .state(let s):
            return ["S", Self.escape(s.vServer), Self.escape(s.service), s.up ? "1" : "0",
                    Self.number(s.lastMs), Self.number(s.averageMs), String(s.samples)]
                .joined(separator: "\t") + (s.probes.map { "\t\($0)" } ?? "") + "\n"
        case .end(let count):
            return "E\t\(count)\n"
        }
    }

    /// Parses one line (without its `\n`); nil when malformed.
    public init?(_ line: Substring) {
        guard line.utf8.count <= Self.maximumLength else { return nil }
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
        switch fields.first {
        case "E":
            guard fields.count == 2, fields[1].utf8.count <= 9, let count = Int(fields[1]), count >= 0 else { return nil }
            self = .end(count: count)
        case "S":
            guard fields.count == 7 || fields.count == 8, let vServer = Self.unescape(fields[1]), let service = Self.unescape(fields[2]),
                  fields[3] == "0" || fields[3] == "1", let last = Self.parseNumber(fields[4]), let average = Self.parseNumber(fields[5]),
                  fields[6].utf8.count <= 12, let samples = Int(fields[6]), samples >= 0 else { return nil }
            var probes: Int?
            if fields.count == 8 {
                guard fields[7].utf8.count <= 15, let count = Int(fields[7]), count >= 0 else { return nil }
                probes = count
            }
            self = .state(MonitorState(vServer: vServer, service: service, up: fields[3] == "1",
                                       lastMs: last.value, averageMs: average.value, samples: samples, probes: probes))
        default:
            return nil
        }
    }

    private static func number(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "-" }
        return String(value)
    }

    /// `-` is nil; otherwise a finite, non-negative number below 10^9 ms.
    private static func parseNumber(_ text: Substring) -> (value: Double?, Void)? {
        if text == "-" { return (nil, ()) }
        guard text.utf8.count <= 32, let value = Double(text), value.isFinite, value >= 0, value < 1e9 else { return nil }
        return (value, ())
    }

    static func escape(_ text: String) -> String {
        var bytes: [UInt8] = []
        for byte in text.utf8 {
            if byte < 0x20 || byte == 0x25 || byte == 0x7f {
                let hex = Array("0123456789ABCDEF".utf8)
                bytes += [0x25, hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func unescape(_ text: Substring) -> String? {
        guard !text.isEmpty else { return nil }
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == 0x25 {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            } else {
                guard byte >= 0x20 else { return nil }
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
}

/// One service's state as a monitor sees it, on the monitoring stream.
public struct MonitorState: Sendable, Hashable {
    public var vServer: String
    public var service: String
    public var up: Bool
    public var lastMs: Double?
    public var averageMs: Double?
    public var samples: Int
    /// Probes started on the service since the monitor started (nil: not said).
    public var probes: Int?

    public init(vServer: String, service: String, up: Bool, lastMs: Double?, averageMs: Double?, samples: Int, probes: Int? = nil) {
        self.vServer = vServer
        self.service = service
        self.up = up
        self.lastMs = lastMs
        self.averageMs = averageMs
        self.samples = samples
        self.probes = probes
    }
}
