#if canImport(Glibc)
import Glibc
#endif
import CTMSPoll
import NIOCore
import NIOPosix

/// How a core's poll set wakes the core's loop without a thread in between (see `CorePoller`).
///
/// An epoll set is itself a descriptor that polls readable while it has events, and may sit in
/// another epoll set. NIO's loop waits on an epoll set of its own; with the core's poll set added
/// to it (level-triggered), the loop wakes when a polled socket has events, exactly as for its
/// channels. NIO passes over events of descriptors it did not register (it must: a channel may
/// leave during a batch), and the data plane's loops run `PollerTicks` after every turn, which
/// drains the poll set on the loop's own thread. Two context switches and the notifier's system
/// calls per batch go away.
///
/// NIO does not say which descriptor its loop waits on, so `descriptor(of:)` finds it:
/// a pipe is registered on that loop as a NIO channel, and the epoll set whose watched
/// descriptors (`/proc/self/fdinfo`, a Linux interface since 3.8) include that pipe is the
/// loop's. When anything here fails, the core keeps its notifier thread and says so in its
/// start-up log line.
enum LoopSelector {
    /// The epoll descriptor `loop` waits on, or why it cannot be found.
    static func descriptor(of loop: any EventLoop) async -> Result<Int32, PollError> {
        var ends: [Int32] = [-1, -1]
        guard ctms_pipe2(&ends, Int32(O_CLOEXEC | O_NONBLOCK)) == 0 else { return .failure(PollError(call: "pipe2", errno: errno)) }
        defer { close(ends[1]) }
        let channel: any Channel
        do {
            channel = try await NIOPipeBootstrap(group: loop).takingOwnershipOfDescriptor(input: ends[0]).get()
        } catch {
            close(ends[0])  // Refused: still ours.
            return .failure(PollError(call: "registering a pipe on the loop: \(error)", errno: 0))
        }
        defer { channel.close(promise: nil) }
        // While the channel is open its descriptor's number is unique to it.
        guard let found = epollSet(watching: ends[0]) else {
            return .failure(PollError(call: "no single epoll set in /proc/self/fdinfo holds a descriptor registered on the loop", errno: 0))
        }
        return .success(found)
    }

    /// The open epoll descriptor of this process whose set holds `target`, if exactly one does.
    static func epollSet(watching target: Int32) -> Int32? {
        guard let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var found: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let fd = Int32(name), isEpoll(fd), watched(by: fd).contains(target) else { continue }
            found.append(fd)
        }
        return found.count == 1 ? found[0] : nil
    }

    private static func isEpoll(_ fd: Int32) -> Bool {
        var link = [CChar](repeating: 0, count: 64)
        let count = readlink("/proc/self/fd/\(fd)", &link, link.count - 1)
        guard count > 0 else { return false }
        return String(decoding: link[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) == "anon_inode:[eventpoll]"
    }

    /// The descriptors an epoll set watches: its fdinfo's `tfd:` lines (read up to 1 MiB: a
    /// set being discovered at start-up holds a handful).
    static func watched(by epoll: Int32) -> [Int32] {
        let fd = open("/proc/self/fdinfo/\(epoll)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while text.count < 1 << 20 {
            let count = read(fd, &chunk, chunk.count)
            guard count > 0 else { break }
            text += chunk[..<count]
        }
        return parseWatched(text)
    }

    /// `tfd:` lines' first numbers ("tfd:        7 events:       19 data: ...").
    static func parseWatched(_ text: [UInt8]) -> [Int32] {
        var result: [Int32] = []
        for line in text.split(separator: UInt8(ascii: "\n")) where line.starts(with: "tfd:".utf8) {
            let digits = line.dropFirst(4).drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }.prefix { $0 >= 0x30 && $0 <= 0x39 }
            if let value = Int32(String(decoding: digits, as: UTF8.self)) { result.append(value) }
        }
        return result
    }
}

/// Runs after every turn of a data-plane loop (NIO's tick delegate) and drains the core's poll
/// set when it sits in the loop's own epoll set. The poller is found through a thread-specific
/// slot: the delegate runs on the loop's thread, the only one that touches the poller.
final class PollerTicks: NIOEventLoopMetricsDelegate {
    private static let slot: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create")
        return key
    }()

    func processedTick(info: NIOEventLoopTickInfo) {
        guard let poller = pthread_getspecific(Self.slot) else { return }
        Unmanaged<CorePoller>.fromOpaque(poller).takeUnretainedValue().drain()
    }

    /// Makes `poller` drained after every turn of the calling thread's loop (call on that loop).
    static func attach(_ poller: CorePoller) {
        detach()
        pthread_setspecific(slot, Unmanaged.passRetained(poller).toOpaque())
    }

    /// Stops draining on the calling thread's loop.
    static func detach() {
        guard let poller = pthread_getspecific(slot) else { return }
        pthread_setspecific(slot, nil)
        Unmanaged<CorePoller>.fromOpaque(poller).release()
    }
}
