import Glibc

/// The guest end of the virtio-serial channel to the host, open non-blocking.
///
/// Ports appear as /sys/class/virtio-ports/vportNpM with a `name` file holding the name
/// given in the domain XML (`<target type='virtio' name='…'/>`), and as /dev/vportNpM
/// (created by devtmpfs; there is no udev to make /dev/virtio-ports/ links).
/// Owns the descriptor and closes it when released.
final class VirtioPort {
    /// e.g. `vport0p1`.
    let deviceName: String
    let fd: Int32

    /// Finds the port named `channel` and opens it O_RDWR|O_NONBLOCK.
    /// - Returns: nil when no such port exists yet or its device node cannot be opened;
    ///   `problem` then says why.
    static func open(channel: String, problem: inout String) -> VirtioPort? {
        let classDirectory = "/sys/class/virtio-ports"
        let ports = FileIO.list(classDirectory)
        guard let device = ports.first(where: { port in
            let name = FileIO.readText("\(classDirectory)/\(port)/name") ?? ""
            return name.split(separator: "\n").first.map(String.init) == channel
        }) else {
            problem = "no virtio port named \(channel) (ports: \(ports.isEmpty ? "none" : ports.joined(separator: ",")))"
            return nil
        }
        let fd = Glibc.open("/dev/\(device)", O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else {
            problem = "open /dev/\(device): \(Console.errnoText())"
            return nil
        }
        return VirtioPort(deviceName: device, fd: fd)
    }

    private init(deviceName: String, fd: Int32) {
        self.deviceName = deviceName
        self.fd = fd
    }

    deinit {
        close(fd)
    }

    /// What `poll` saw on the port.
    enum Readiness {
        /// Nothing happened before the timeout.
        case idle
        /// Bytes from the host are waiting.
        case readable
        /// No host is connected to the other end (POLLHUP, usually with POLLIN): reads
        /// return EOF, writes would block, and poll keeps returning at once, so callers
        /// must sleep instead of polling again.
        case hostDisconnected
        /// The descriptor is broken (POLLERR/POLLNVAL): reopen.
        case failed
    }

    /// Waits up to `timeoutMs` for input or a state change.
    func wait(timeoutMs: Int64) -> Readiness {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let result = poll(&pfd, 1, Int32(clamping: max(0, timeoutMs)))
        if result <= 0 { return .idle }
        if pfd.revents & Int16(POLLERR | POLLNVAL) != 0 { return .failed }
        // Checked before POLLIN: without a host the driver reports POLLIN|POLLHUP (a read
        // would return EOF at once), so treating that as "readable" would spin.
        if pfd.revents & Int16(POLLHUP) != 0 { return .hostDisconnected }
        if pfd.revents & Int16(POLLIN) != 0 { return .readable }
        return .idle
    }

    /// Reads what is available without blocking.
    /// - Returns: the bytes (possibly empty), or nil on end of file (host gone) or error.
    func readAvailable() -> [UInt8]? {
        var collected: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while collected.count < 65536 {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                collected.append(contentsOf: chunk[0..<count])
            } else if count == 0 {
                return collected.isEmpty ? nil : collected
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN {
                return collected
            } else {
                return collected.isEmpty ? nil : collected
            }
        }
        return collected
    }

    /// Result of a write attempt.
    enum WriteOutcome: Equatable {
        case written
        /// Nothing was written: the host is not reading (or not connected).
        case wouldBlock
        /// Part of the line went out; the rest could not be written within the patience.
        case partial
        case failed(Int32)
    }

    /// Writes `line` completely, waiting for the port to become writable for at most
    /// `patienceMs` (0: a single attempt). Never spins: waits use poll(POLLOUT).
    func write(_ line: [UInt8], patienceMs: Int64) -> WriteOutcome {
        let deadline = Clock.monotonicMs() + patienceMs
        var offset = 0
        while true {
            let count = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count > 0 {
                offset += count
                if offset == line.count { return .written }
                continue
            }
            let code = errno
            if count < 0 && code == EINTR { continue }
            if count < 0 && code != EAGAIN && code != ECONNRESET { return .failed(code) }
            let remaining = deadline - Clock.monotonicMs()
            if remaining <= 0 { return offset == 0 ? .wouldBlock : .partial }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            if poll(&pfd, 1, Int32(clamping: remaining)) > 0 && pfd.revents & Int16(POLLOUT) == 0 {
                // POLLHUP without POLLOUT: nobody will read; sleep out the patience instead
                // of spinning on a poll that returns at once.
                Clock.sleep(ms: min(remaining, 50))
            }
        }
    }
}
