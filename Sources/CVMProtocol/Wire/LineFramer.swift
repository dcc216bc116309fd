/// Cuts a byte stream into `\n`-terminated lines.
///
/// Feed it chunks of any size as they arrive; it returns the complete lines each chunk
/// finishes (without the `\n`). Memory is bounded: a line longer than `maxLineLength` bytes
/// is not kept — its bytes are dropped up to and including its `\n`, and a single
/// `.overlong(byteCount:)` event reports it when that `\n` arrives.
public struct LineFramer: Sendable {
    public enum Event: Sendable, Equatable {
        /// A complete line, newline stripped.
        case line([UInt8])
        /// A line of `byteCount` bytes (newline excluded) exceeded the limit and was dropped.
        case overlong(byteCount: Int)
    }

    public static let defaultMaxLineLength = 4096

    public let maxLineLength: Int
    private var buffer: [UInt8] = []
    /// Bytes of the current over-long line dropped so far; nil while not discarding.
    private var discarded: Int?

    /// - Precondition: `maxLineLength > 0`.
    public init(maxLineLength: Int = LineFramer.defaultMaxLineLength) {
        precondition(maxLineLength > 0, "maxLineLength must be positive")
        self.maxLineLength = maxLineLength
    }

    /// True while the framer is dropping the rest of an over-long line.
    public var isDiscarding: Bool { discarded != nil }

    /// Bytes of an unfinished line currently held.
    public var bufferedByteCount: Int { buffer.count }

    /// Appends `chunk` and returns the events it completes, in stream order.
    public mutating func feed<C: Collection>(_ chunk: C) -> [Event] where C.Element == UInt8 {
        var events: [Event] = []
        for byte in chunk {
            if byte == UInt8(ascii: "\n") {
                if let count = discarded {
                    events.append(.overlong(byteCount: count))
                    discarded = nil
                } else {
                    events.append(.line(buffer))
                }
                buffer.removeAll(keepingCapacity: true)
            } else if let count = discarded {
                discarded = count + 1
            } else if buffer.count == maxLineLength {
                discarded = buffer.count + 1
                buffer.removeAll(keepingCapacity: true)
            } else {
                buffer.append(byte)
            }
        }
        return events
    }

    /// Forgets any partial line (e.g. when the peer reconnects).
    public mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        discarded = nil
    }
}
