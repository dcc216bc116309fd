import CVMProtocol
import Foundation

/// TLS for the data plane of CVMs on hosts of trust `public` (the traffic manager's traffic to
/// and from them crosses networks the operator does not own). The orchestrator's CA (the one
/// that signs the hosts' migration certificates, under `<state>/pki`) issues:
/// - every CVM with a NIC a certificate for its segment address (an IP SAN; server and client),
///   made at deploy and carried on the CVM's disk next to its HMAC secret (``ConfigBlock``): the
///   private key exists only there and in the guest, never in the store or a log;
/// - the traffic manager (`cvmctl tms run`) one for the segment's gateway address, kept in
///   `<state>/pki/data-plane/traffic-manager`.
/// A CVM's certificate stays valid across migrations (its address does not change).
public struct DataPlaneTLS: Sendable {
    let migration: MigrationTLS

    public init(stateDirectory: String) {
        migration = MigrationTLS(stateDirectory: stateDirectory)
    }

    /// The names of the files in the guest (``ConfigBlock/credentialsDirectory``).
    public static let caFile = "ca.pem", certificateFile = "cert.pem", keyFile = "key.pem"

    /// Issues CVM `name` a certificate for `address`: the files its disk carries.
    func credentials(cvm name: String, address: String) throws -> [(name: String, text: String)] {
        try migration.ensureCA()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cvmctl-issue-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = directory + "/key.pem", cert = directory + "/cert.pem", extensions = directory + "/ext.cnf"
        try """
        subjectAltName=IP:\(address)
        basicConstraints=critical,CA:FALSE
        keyUsage=critical,digitalSignature,keyEncipherment
        extendedKeyUsage=serverAuth,clientAuth

        """.write(toFile: extensions, atomically: true, encoding: .utf8)
        try MigrationTLS.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                  "-keyout", key, "-out", directory + "/req.csr", "-subj", "/CN=cvm \(name)"])
        try MigrationTLS.openssl(["x509", "-req", "-in", directory + "/req.csr", "-CA", migration.caCert, "-CAkey", migration.caKey,
                                  "-set_serial", "0x" + MigrationTLS.randomHex(), "-days", "825",
                                  "-extfile", extensions, "-out", cert])
        return [(Self.caFile, try String(contentsOfFile: migration.caCert, encoding: .utf8)),
                (Self.certificateFile, try String(contentsOfFile: cert, encoding: .utf8)),
                (Self.keyFile, try String(contentsOfFile: key, encoding: .utf8))]
    }

    /// The traffic manager's certificate for the segment's gateway `address` (and its key, and
    /// the CA), as paths: issued once, again when the address changes.
    public func trafficManager(gateway address: String) throws -> (certificate: String, key: String, ca: String) {
        let credentials = try migration.credentials(host: "traffic-manager", addresses: [address], group: "data-plane")
        return (credentials.cert, credentials.key, credentials.caCert)
    }

    /// Where the guest finds its files.
    public static func guestPath(_ file: String) -> String { ConfigBlock.credentialsDirectory + "/" + file }
}
