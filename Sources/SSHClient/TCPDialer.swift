import Foundation

/// Opens TCP connections to literal IP addresses only, with a deadline.
enum TCPDialer {
    enum Failure: Error {
        /// Not a literal IPv4/IPv6 address, or a bad port. No name is ever resolved.
        case invalidAddress(String)
        case refused(String)
        case timedOut
    }

    /// Connects to `host:port` and returns a connected, non-blocking, close-on-exec
    /// socket with TCP_NODELAY set (SSH exchanges many small packets). The caller owns
    /// the descriptor. Only complete IPv4/IPv6 literals are taken (`inet_pton`, then
    /// `getaddrinfo` with `AI_NUMERICHOST`), so a host name is refused, never looked up.
    static func dial(host: String, port: Int, deadline: ContinuousClock.Instant) throws(Failure) -> Int32 {
        guard (1...65535).contains(port) else { throw .invalidAddress("port \(port) is outside 1...65535") }
        // inet_pton takes only complete literals; getaddrinfo alone would also take
        // shorthand such as "10.200.0" (= 10.200.0.0), which is almost surely a typo.
        var scratch = in6_addr()
        guard inet_pton(AF_INET, host, &scratch) == 1 || inet_pton(AF_INET6, host, &scratch) == 1 else {
            throw .invalidAddress("'\(host)' is not a literal IP address (names are not resolved)")
        }
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let gai = getaddrinfo(host, String(port), &hints, &list)
        guard gai == 0, let info = list?.pointee else {
            throw .invalidAddress("'\(host)' is not a literal IP address (names are not resolved)")
        }
        defer { freeaddrinfo(list) }

        let fd = socket(info.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                        | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .refused("socket: \(systemErrorText())") }
        var ok = false
        defer { if !ok { close(fd) } }

        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if connect(fd, info.ai_addr, info.ai_addrlen) != 0 {
            guard errno == EINPROGRESS else { throw .refused(systemErrorText()) }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            while true {
                let wait = pollMilliseconds(until: deadline)
                guard wait > 0 else { throw .timedOut }
                let n = poll(&pfd, 1, wait)
                if n > 0 { break }
                if n < 0, errno != EINTR { throw .refused("poll: \(systemErrorText())") }
            }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length) == 0 else {
                throw .refused("getsockopt: \(systemErrorText())")
            }
            guard soError == 0 else {
                if soError == ETIMEDOUT { throw .timedOut }
                throw .refused(String(cString: strerror(soError)))
            }
        }
        ok = true
        return fd
    }
}

/// Milliseconds left until `deadline` for poll(2): at least 1 while time remains, 0 once
/// it has passed, capped to Int32.
func pollMilliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
    let left = ContinuousClock.now.duration(to: deadline)
    guard left > .zero else { return 0 }
    let ms = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1
    return Int32(clamping: ms)
}

func systemErrorText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
