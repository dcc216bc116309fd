import NIOCore

extension SocketAddress {
    /// The address as text (`192.0.2.1`, `2001:db8::1`). An IPv4 address is written here
    /// digit by digit: NIO's `ipAddress` goes through `inet_ntop`, whose `sprintf` cost more
    /// than the rest of a connection's set-up in user space on the per-request path.
    var ipText: String? {
        guard case .v4(let address) = self else { return ipAddress }
        let bytes = UInt32(bigEndian: address.address.sin_addr.s_addr)
        var text = ""
        text.reserveCapacity(15)
        for shift in stride(from: 24, through: 0, by: -8) {
            let byte = Int((bytes >> UInt32(shift)) & 0xFF)
            if shift != 24 { text.append(".") }
            if byte >= 100 { text.unicodeScalars.append(Unicode.Scalar(UInt8(48 + byte / 100))) }
            if byte >= 10 { text.unicodeScalars.append(Unicode.Scalar(UInt8(48 + byte / 10 % 10))) }
            text.unicodeScalars.append(Unicode.Scalar(UInt8(48 + byte % 10)))
        }
        return text
    }

    /// The client's address as the access log writes it: `192.0.2.1:40000`, `[2001:db8::1]:40000`.
    var accessLogText: String {
        let ip = ipText ?? "?"
        return (ip.utf8.contains(UInt8(ascii: ":")) ? "[\(ip)]" : ip) + ":\(port ?? 0)"
    }
}
