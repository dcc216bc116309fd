/// Parses a CSV connection trace: `time,core,event,client` per line, `time` in seconds
/// (decimal, up to nanoseconds, non-decreasing), `core` a non-negative integer, `event`
/// `open` or `close`, `client` any non-empty text without commas. A header line with those
/// four names is optional; blank lines are skipped. Pure: the caller reads the file.
public enum TraceParser {
    public static func parse(_ text: String) throws(TraceError) -> [TraceEvent] {
        var events: [TraceEvent] = []
        var previousTime: Duration?
        var seenContent = false
        // `isNewline` also covers "\r\n", which Swift treats as a single Character.
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let lineNumber = index + 1
            if line.allSatisfy(\.isWhitespace) { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(trimmed)
            if !seenContent {
                seenContent = true
                if fields.map({ $0.lowercased() }) == ["time", "core", "event", "client"] { continue }
            }
            guard fields.count == 4 else {
                throw TraceError(line: lineNumber, "expected 4 fields time,core,event,client but found \(fields.count)")
            }
            guard let nanoseconds = ExactDecimal.parse(Substring(fields[0]), fractionDigits: 9) else {
                throw TraceError(line: lineNumber, "time '\(fields[0])' is not a number of seconds (e.g. 12 or 0.250)")
            }
            let time = Duration.nanoseconds(nanoseconds)
            if let previousTime, time < previousTime {
                throw TraceError(line: lineNumber, "time \(fields[0]) is earlier than the line before")
            }
            guard let core = Int(fields[1]), core >= 0 else {
                throw TraceError(line: lineNumber, "core '\(fields[1])' is not a core number (0, 1, ...)")
            }
            guard let kind = TraceEvent.Kind(rawValue: fields[2].lowercased()) else {
                throw TraceError(line: lineNumber, "event '\(fields[2])' is neither open nor close")
            }
            guard !fields[3].isEmpty else { throw TraceError(line: lineNumber, "client is empty") }
            previousTime = time
            events.append(TraceEvent(time: time, core: core, kind: kind, client: fields[3], line: lineNumber))
        }
        return events
    }

    private static func trimmed(_ field: Substring) -> String {
        String(field.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
