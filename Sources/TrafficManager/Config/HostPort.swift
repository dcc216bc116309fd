import NIOCore

/// An IP address and port as written in configuration files and on the command line:
/// `127.0.0.1:8080`, `[::1]:8080`, or `localhost:8080` (which means 127.0.0.1). Addresses are
/// IP literals so nothing on the data path ever resolves a name.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`; `nil` if the text is not one (port 0 allowed: any free port).
    public init?(parsing text: String) {
        let hostPart: Substring, portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portPart = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") { return nil }
        }
        guard let port = Int(portPart), (0...65_535).contains(port), !hostPart.isEmpty else { return nil }
        let host = hostPart == "localhost" ? "127.0.0.1" : String(hostPart)
        guard (try? SocketAddress(ipAddress: host, port: port)) != nil else { return nil }
        self.init(host: host, port: port)
    }

    /// The socket address (the host is an IP literal, so this never resolves a name).
    public func socketAddress() throws -> SocketAddress {
        try SocketAddress(ipAddress: host, port: port)
    }

    /// Whether the address is on the loopback network (127.0.0.0/8 or ::1).
    public var isLoopback: Bool {
        host == "::1" || host.hasPrefix("127.")
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
