import Glibc

/// Concise log lines on the console (ttyS0 through /dev/console, i.e. file descriptor 1).
///
/// Writes go straight to the file descriptor, unbuffered, so nothing is lost when the agent
/// powers the machine off. Callers must never pass the secret.
enum Console {
    static func log(_ message: String) {
        var line = Array("cvm-agent: \(message)\n".utf8)
        line.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return  // No console: nothing else to do with a log line.
                }
            }
        }
    }

    /// Makes sure descriptors 0, 1 and 2 are the console. The kernel opens /dev/console for
    /// /init when the initramfs has that node; if it did not, open it now (after devtmpfs
    /// is mounted).
    static func attachIfMissing() {
        guard fcntl(1, F_GETFD) < 0 else { return }
        let fd = open("/dev/console", O_RDWR | O_NOCTTY)
        guard fd >= 0 else { return }
        for target: Int32 in 0...2 where target != fd { dup2(fd, target) }
        if fd > 2 { close(fd) }
    }

    /// Text for the current `errno`.
    static func errnoText(_ code: Int32 = errno) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}
