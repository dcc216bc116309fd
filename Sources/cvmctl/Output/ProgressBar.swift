import Foundation
import Synchronization

/// A one-line progress bar on stderr. On a terminal it redraws in place; otherwise it
/// prints a line at each quarter so logs stay short.
final class ProgressBar: Sendable {
    private let enabled: Bool
    private let isTTY = isatty(STDERR_FILENO) == 1
    private let state = Mutex<(label: String, quarter: Int, drawn: Bool)>(("", -1, false))

    init(enabled: Bool) { self.enabled = enabled }

    func line(_ text: String) {
        guard enabled else { return }
        finish()
        write("\(text)\n")
    }

    func update(_ label: String, done: Int64, total: Int64) {
        guard enabled, total > 0 else { return }
        let fraction = min(1, max(0, Double(done) / Double(total)))
        let width = 30
        let filled = Int(fraction * Double(width))
        let text = "\(label) [\(String(repeating: "#", count: filled))\(String(repeating: "-", count: width - filled))] \(Int(fraction * 100))% (\(Self.mib(total - done)) left)"
        if isTTY {
            state.withLock { $0.drawn = true }
            write("\r\u{1B}[K" + text)
        } else {
            let quarter = Int(fraction * 4)
            let changed = state.withLock { s -> Bool in
                defer { s.label = label; s.quarter = quarter }
                return s.label != label || s.quarter != quarter
            }
            if changed { write(text + "\n") }
        }
    }

    func finish() {
        let drawn = state.withLock { s -> Bool in defer { s.drawn = false }; return s.drawn }
        if drawn { write("\n") }
    }

    private func write(_ s: String) { writeAll(s, to: 2) }

    private static func mib(_ bytes: Int64) -> String { String(format: "%.1f MiB", Double(max(0, bytes)) / 1_048_576) }
}
