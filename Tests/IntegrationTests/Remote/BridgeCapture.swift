import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A packet capture on the test bed's bridge `cvmbr0` (tcpdump, whole packets, written as they
/// come), and a search of the captured bytes.
final class BridgeCapture {
    let file: String
    private let tcpdump = Process()

    /// Starts capturing what `filter` selects into `file`, and waits a second for tcpdump.
    init(file: String, filter: [String]) throws {
        self.file = file
        tcpdump.executableURL = URL(fileURLWithPath: "/usr/bin/tcpdump")
        // `-Z root`: the file stays writable in the state folder.
        tcpdump.arguments = ["-i", "cvmbr0", "-Z", "root", "-U", "-s", "0", "-w", file] + filter
        tcpdump.standardOutput = FileHandle.nullDevice
        tcpdump.standardError = FileHandle.nullDevice
        try tcpdump.run()
        Thread.sleep(forTimeInterval: 1)
    }

    deinit { stop() }

    /// SIGKILL: a child of this process starts with SIGTERM and SIGINT blocked (inherited
    /// from the thread that spawned it), and tcpdump never unblocks them. `-U` has written
    /// every packet already.
    func stop() {
        if tcpdump.isRunning { kill(tcpdump.processIdentifier, SIGKILL); tcpdump.waitUntilExit() }
    }

    /// The captured bytes (after `stop()`).
    func bytes() throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: file))) }

    /// Whether `needle` occurs in `hay` (Boyer-Moore-Horspool: Foundation's Data.range(of:)
    /// takes minutes over 100 MB).
    static func contains(_ needle: [UInt8], in hay: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= hay.count else { return false }
        var shift = [Int](repeating: needle.count, count: 256)
        for i in 0..<(needle.count - 1) { shift[Int(needle[i])] = needle.count - 1 - i }
        var i = 0
        while i <= hay.count - needle.count {
            var j = needle.count - 1
            while j >= 0 && hay[i + j] == needle[j] { j -= 1 }
            if j < 0 { return true }
            i += shift[Int(hay[i + needle.count - 1])]
        }
        return false
    }
}
