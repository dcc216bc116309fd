/// Mutual TLS 1.3 on one side of the data plane, with PEM files:
/// - on a vServer (`tls:`), its listener accepts only TLS clients presenting a certificate
///   signed by `ca`, and presents `certificate`;
/// - on a service (`tls:`), connections to it are TLS: the service must present a certificate
///   signed by `ca` that names the address connected to (an IP SAN), and `certificate` is
///   presented to it.
/// The orchestrator uses it for CVMs on hosts of trust `public` (their certificates come from
/// its CA); any operator's PKI works the same way.
public struct TLSConfig: Sendable, Hashable {
    public var certificate: String
    public var key: String
    public var ca: String

    public init(certificate: String, key: String, ca: String) {
        self.certificate = certificate
        self.key = key
        self.ca = ca
    }
}
