import Foundation

/// Builds a Prometheus text exposition (format 0.0.4): each family once, with its HELP and
/// TYPE lines, its samples together, label values escaped.
struct PrometheusText {
    enum Kind: String { case counter, gauge, histogram }

    private struct Family {
        var kind: Kind
        var help: String
        var samples: [String] = []
    }

    private var order: [String] = []
    private var families: [String: Family] = [:]

    /// Adds one sample of family `name` (declared with `kind` and `help` at its first sample).
    mutating func add(_ name: String, _ kind: Kind, _ help: String, _ labels: [(String, String)] = [], _ value: Double) {
        append(name, kind, help, Self.line(name, labels, value))
    }

    /// Adds one histogram: `counts` per bucket (not cumulative, +Inf last) of the upper
    /// `bounds` (seconds), and the sum of the observations in seconds.
    mutating func histogram(_ name: String, _ help: String, _ labels: [(String, String)], bounds: [Double], counts: [Int], sum: Double) {
        var cumulative = 0
        for (index, count) in counts.enumerated() {
            cumulative += count
            let bound = index < bounds.count ? Self.format(bounds[index]) : "+Inf"
            append(name, .histogram, help, Self.line(name + "_bucket", labels + [("le", bound)], Double(cumulative)))
        }
        append(name, .histogram, help, Self.line(name + "_sum", labels, sum))
        append(name, .histogram, help, Self.line(name + "_count", labels, Double(cumulative)))
    }

    var text: String {
        var out = ""
        for name in order {
            guard let family = families[name] else { continue }
            out += "# HELP \(name) \(Self.escapeHelp(family.help))\n# TYPE \(name) \(family.kind.rawValue)\n"
            for sample in family.samples { out += sample + "\n" }
        }
        return out
    }

    private mutating func append(_ name: String, _ kind: Kind, _ help: String, _ line: String) {
        if families[name] == nil {
            order.append(name)
            families[name] = Family(kind: kind, help: help)
        }
        families[name]?.samples.append(line)
    }

    private static func line(_ name: String, _ labels: [(String, String)], _ value: Double) -> String {
        guard !labels.isEmpty else { return "\(name) \(format(value))" }
        let rendered = labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",")
        return "\(name){\(rendered)} \(format(value))"
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    static func escapeLabel(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    private static func escapeHelp(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}
