import NIOCore
import NIOSSL

/// The TLS contexts of a ``TLSConfig``: built once per reload (reading the PEM files then),
/// shared by every core (`NIOSSLContext` is thread-safe), one handler per connection.
extension TLSConfig {
    /// The listener's side: TLS 1.3 only; the client must present a certificate signed by `ca`.
    func serverContext() throws(TLSSetupError) -> NIOSSLContext {
        try make { chain, key, roots in
            var configuration = TLSConfiguration.makeServerConfigurationWithMTLS(
                certificateChain: chain, privateKey: key, trustRoots: roots)
            configuration.minimumTLSVersion = .tlsv13
            return configuration
        }
    }

    /// The connecting side: TLS 1.3 only; the service's certificate must be signed by `ca` and
    /// name the IP address connected to; `certificate` is presented to it.
    func clientContext() throws(TLSSetupError) -> NIOSSLContext {
        try make { chain, key, roots in
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv13
            configuration.certificateVerification = .fullVerification
            configuration.trustRoots = roots
            configuration.certificateChain = chain
            configuration.privateKey = key
            return configuration
        }
    }

    private func make(_ configure: ([NIOSSLCertificateSource], NIOSSLPrivateKeySource, NIOSSLTrustRoots) -> TLSConfiguration)
        throws(TLSSetupError) -> NIOSSLContext {
        let chain: [NIOSSLCertificateSource]
        let privateKey: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) } } catch {
            throw TLSSetupError(file: certificate, problem: "not a PEM certificate (\(error))")
        }
        guard !chain.isEmpty else { throw TLSSetupError(file: certificate, problem: "holds no certificate") }
        do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch {
            throw TLSSetupError(file: key, problem: "not a PEM private key (\(error))")
        }
        do { _ = try NIOSSLCertificate.fromPEMFile(ca) } catch {
            throw TLSSetupError(file: ca, problem: "not a PEM CA certificate (\(error))")
        }
        do {
            return try NIOSSLContext(configuration: configure(chain, .privateKey(privateKey), .file(ca)))
        } catch {
            throw TLSSetupError(file: certificate, problem: "does not go with key \(key) or CA \(ca) (\(error))")
        }
    }
}

/// A TLS file that cannot be used: names the file.
public struct TLSSetupError: Error, CustomStringConvertible {
    public let file: String
    public let problem: String
    public var description: String { "TLS: \(file): \(problem)" }
}
