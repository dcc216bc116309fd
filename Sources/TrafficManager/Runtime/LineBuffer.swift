import NIOCore

/// The `\n`-ended lines of a byte stream, as they arrive: what every line protocol of the
/// traffic manager reads with (the collector's, the session store's). A line longer than
/// `limit` bytes is never buffered further: `tooLong` says so, and the caller closes.
struct LineBuffer {
    private var pending: [UInt8] = []
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// The complete lines in what was buffered and `buffer` (read out), without their `\n`.
    mutating func lines(_ buffer: inout ByteBuffer) -> (lines: [Substring], tooLong: Bool) {
        pending += buffer.readBytes(length: buffer.readableBytes) ?? []
        var lines: [Substring] = []
        var start = 0
        while let newline = pending[start...].firstIndex(of: 0x0a) {
            lines.append(Substring(decoding: pending[start..<newline], as: UTF8.self))
            start = newline + 1
        }
        pending.removeFirst(start)
        return (lines, pending.count > limit)
    }
}
