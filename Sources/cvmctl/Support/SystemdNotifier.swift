import Foundation
import Logging
import ServiceLifecycle

/// systemd's notification protocol for `Type=notify` units (`cvmctl serve`, `cvmctl tms run`):
/// `READY=1` once `isReady` holds, `WATCHDOG=1` every half `WatchdogSec` while `isHealthy`
/// answers true (a process whose loop or store hangs stops pinging, and systemd restarts it),
/// `STOPPING=1` when the graceful shutdown begins. Without `NOTIFY_SOCKET` (not under systemd)
/// it does nothing.
///
/// The datagrams go to `NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace);
/// `WATCHDOG_USEC` and `WATCHDOG_PID` are honoured as sd_notify(3) says.
struct SystemdNotifier: Service {
    let environment: [String: String]
    let isReady: @Sendable () async -> Bool
    let isHealthy: @Sendable () async -> Bool
    let status: @Sendable () async -> String
    let logger: Logger

    init(environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger,
         status: @escaping @Sendable () async -> String = { "running" },
         isReady: @escaping @Sendable () async -> Bool, isHealthy: @escaping @Sendable () async -> Bool = { true }) {
        self.environment = environment
        self.isReady = isReady
        self.isHealthy = isHealthy
        self.status = status
        self.logger = logger
    }

    /// The watchdog interval systemd asked for, when it is meant for this process.
    var watchdogInterval: Duration? {
        guard let text = environment["WATCHDOG_USEC"], let usec = Int64(text), usec > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], Int32(pid) != getpid() { return nil }
        return .microseconds(usec)
    }

    func run() async throws {
        guard let socket = environment["NOTIFY_SOCKET"], !socket.isEmpty else { return }
        let ping = watchdogInterval.map { $0 / 2 }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled, await !isReady() {
                try? await Task.sleep(for: .milliseconds(50))
            }
            guard !Task.isCancelled else { return }
            Self.send("READY=1\nSTATUS=\(await status())\nMAINPID=\(getpid())", to: socket, logger: logger)
            guard let ping else { return }
            while !Task.isCancelled {
                if await isHealthy() { Self.send("WATCHDOG=1", to: socket, logger: logger) }
                try? await Task.sleep(for: ping)
            }
        }
        Self.send("STOPPING=1\nSTATUS=stopping", to: socket, logger: logger)
    }

    /// One datagram to the notification socket. Errors are logged, never fatal.
    static func send(_ message: String, to socket: String, logger: Logger) {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socket.utf8)
        let abstract = path.first == UInt8(ascii: "@")
        if abstract { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else {
            logger.warning("NOTIFY_SOCKET is too long; systemd is not told", metadata: ["cvm.socket": "\(socket)"])
            return
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (abstract ? 0 : 1))
        let sent = message.utf8CString.withUnsafeBufferPointer { bytes in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count - 1, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        if sent < 0 {
            logger.warning("cannot notify systemd", metadata: ["cvm.socket": "\(socket)", "cvm.error": "\(String(cString: strerror(errno)))"])
        }
    }
}
