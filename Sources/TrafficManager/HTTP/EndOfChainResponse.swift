import NIOHTTP1

/// What the traffic manager answers an HTTP client itself, when no service takes it.
public enum EndOfChainResponse: Sendable, Hashable {
    /// The whole backup chain is full: `302 Found` to the configured URL.
    case redirect(location: String)
    /// No service could take the connection (none up, all refused, or a full chain without a
    /// redirect URL): `503 Service Unavailable`.
    case unavailable

    /// The response head: the status, the `Location` of a redirect, an empty body, and
    /// `Connection: close` (the traffic manager closes after answering).
    public var head: HTTPResponseHead {
        var headers = HTTPHeaders()
        switch self {
        case .redirect(let location):
            headers.add(name: "Location", value: location)
        case .unavailable:
            headers.add(name: "Retry-After", value: "1")
        }
        headers.add(name: "Content-Length", value: "0")
        headers.add(name: "Connection", value: "close")
        return HTTPResponseHead(version: .http1_1, status: status, headers: headers)
    }

    public var status: HTTPResponseStatus {
        switch self {
        case .redirect: return .found
        case .unavailable: return .serviceUnavailable
        }
    }
}
