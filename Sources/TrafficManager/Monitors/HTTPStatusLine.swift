/// Reads the status code from the first line of an HTTP/1.x response (`HTTP/1.1 200 OK`).
public enum HTTPStatusLine {
    public enum Result: Sendable, Hashable {
        case status(Int)
        /// The line is not complete yet.
        case incomplete
        case invalid
    }

    /// The longest status line accepted.
    public static let maximumLength = 1024

    public static func parse(_ bytes: some Collection<UInt8>) -> Result {
        guard let end = bytes.firstIndex(of: UInt8(ascii: "\n")) else {
            return bytes.count > maximumLength ? .invalid : .incomplete
        }
        var line = Array(bytes[..<end])
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        let parts = line.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].starts(with: Array("HTTP/1.".utf8)), parts[1].count == 3,
              parts[1].allSatisfy({ (48...57).contains($0) }),
              let status = Int(String(decoding: parts[1], as: UTF8.self)), (100...599).contains(status) else {
            return .invalid
        }
        return .status(status)
    }
}
