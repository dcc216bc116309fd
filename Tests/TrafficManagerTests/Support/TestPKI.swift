import Foundation

/// A throw-away PKI made with the `openssl` command for the TLS tests: a CA, certificates
/// it signs (with IP SANs), and a second CA nobody trusts.
struct TestPKI {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tms-pki-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try makeCA("ca")
        try makeCA("rogue-ca")
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    func path(_ name: String) -> String { directory + "/" + name }

    private func makeCA(_ name: String) throws {
        try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", path("\(name)-key.pem"), "-out", path("\(name).pem"), "-days", "2",
                          "-subj", "/CN=\(name)", "-addext", "basicConstraints=critical,CA:TRUE",
                          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    }

    /// `NAME-cert.pem` and `NAME-key.pem`, signed by `ca` (`ca` or `rogue-ca`), naming `ips`.
    @discardableResult
    func issue(_ name: String, ips: [String], by ca: String = "ca") throws -> (certificate: String, key: String) {
        let extensions = path("\(name).ext")
        try """
        \(ips.isEmpty ? "" : "subjectAltName=" + ips.map { "IP:\($0)" }.joined(separator: ","))
        basicConstraints=critical,CA:FALSE
        keyUsage=critical,digitalSignature
        extendedKeyUsage=serverAuth,clientAuth

        """.write(toFile: extensions, atomically: true, encoding: .utf8)
        try Self.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", path("\(name)-key.pem"), "-out", path("\(name).csr"), "-subj", "/CN=\(name)"])
        try Self.openssl(["x509", "-req", "-in", path("\(name).csr"), "-CA", path("\(ca).pem"), "-CAkey", path("\(ca)-key.pem"),
                          "-set_serial", "\(Int.random(in: 1...1_000_000_000))", "-days", "2", "-extfile", extensions,
                          "-out", path("\(name)-cert.pem")])
        return (path("\(name)-cert.pem"), path("\(name)-key.pem"))
    }

    /// The YAML `tls:` value for `name`'s files, trusting `ca`.
    func yaml(_ name: String, ca: String = "ca") -> String {
        "{ certificate: \(path("\(name)-cert.pem")), key: \(path("\(name)-key.pem")), ca: \(path("\(ca).pem")) }"
    }

    struct Failed: Error, CustomStringConvertible { let description: String }

    static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failed(description: "openssl \(arguments.first ?? ""): \(String(decoding: output, as: UTF8.self))")
        }
    }
}
