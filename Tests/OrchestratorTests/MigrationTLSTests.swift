import Foundation
import Synchronization
@testable import Orchestrator
import Testing

/// The orchestrator's migration CA and the hosts' certificates, checked with `openssl verify`,
/// and the local install's refusal to overwrite certificates someone else put there.
@Suite struct MigrationTLSCredentialTests {
    static func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "cvm-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func openssl(_ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        guard (try? process.run()) != nil else { return (-1, "no openssl") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func aHostCertificateIsSignedByTheCAForItsAddressesOnly() throws {
        let state = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let tls = MigrationTLS(stateDirectory: state)
        let credentials = try tls.credentials(host: "c2", addresses: ["10.200.0.2"])
        #expect(Self.openssl(["verify", "-CAfile", credentials.caCert, credentials.cert]).status == 0)
        let text = Self.openssl(["x509", "-in", credentials.cert, "-noout", "-text"]).output
        #expect(text.contains("IP Address:10.200.0.2"))
        #expect(text.contains("TLS Web Server Authentication") && text.contains("TLS Web Client Authentication"))
        // Keys are the owner's alone.
        for path in [tls.caKey, credentials.key] {
            let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
            #expect(mode == 0o600, "\(path) is \(String(mode ?? 0, radix: 8))")
        }
        // Same addresses: the same certificate; new addresses: a new one, still from the same CA.
        let before = try Data(contentsOf: URL(fileURLWithPath: credentials.cert))
        _ = try tls.credentials(host: "c2", addresses: ["10.200.0.2"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: credentials.cert)) == before)
        let caBefore = try tls.caFingerprint()
        let moved = try tls.credentials(host: "c2", addresses: ["10.200.0.9"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: moved.cert)) != before)
        #expect(Self.openssl(["x509", "-in", moved.cert, "-noout", "-text"]).output.contains("IP Address:10.200.0.9"))
        #expect(try tls.caFingerprint() == caBefore)
        // A certificate from another orchestrator's CA does not verify against this one.
        let other = MigrationTLS(stateDirectory: state + "/other")
        let foreign = try other.credentials(host: "c2", addresses: ["10.200.0.2"])
        #expect(Self.openssl(["verify", "-CAfile", credentials.caCert, foreign.cert]).status != 0)
    }

    /// Elastic mode deploys several tasks at once, and two commands may start together: on a
    /// new state directory they all make the CA at the same moment. One CA must come out of it,
    /// whose key matches its certificate, and every CVM certificate issued must verify. (Before
    /// the lock, a key from one and a certificate from another could be left: every later
    /// deployment then failed in `openssl x509`.)
    @Test func deploymentsStartedTogetherOnANewStateDirectoryShareOneWorkingCA() throws {
        let state = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let issued = Mutex<[Result<String, any Error>]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { index in
            let tls = DataPlaneTLS(stateDirectory: state)
            let result = Result {
                let files = try tls.credentials(cvm: "cvm-\(index)", address: "10.250.0.\(index + 2)")
                return files.first { $0.name == DataPlaneTLS.certificateFile }?.text ?? ""
            }
            issued.withLock { $0.append(result) }
        }
        let tls = MigrationTLS(stateDirectory: state)
        for (index, result) in issued.withLock({ $0 }).enumerated() {
            let certificate = try result.get()
            let path = state + "/issued-\(index).pem"
            try certificate.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(Self.openssl(["verify", "-CAfile", tls.caCert, path]).status == 0)
        }
        // And the CA still signs: a host certificate issued after the race verifies.
        let host = try tls.credentials(host: "later", addresses: ["10.250.1.1"])
        #expect(Self.openssl(["verify", "-CAfile", host.caCert, host.cert]).status == 0)
    }

    @Test func theLocalInstallIsIdempotentAndLeavesForeignCertificatesAlone() throws {
        let state = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let tls = MigrationTLS(stateDirectory: state)
        let credentials = try tls.credentials(host: "local", addresses: ["127.0.0.1"])
        let target = state + "/etc-pki-qemu"
        try tls.installLocally(credentials, hostName: "local", directory: target)
        let names = try FileManager.default.contentsOfDirectory(atPath: target).sorted()
        #expect(names == [".cvmctl-ca", "ca-cert.pem", "client-cert.pem", "client-key.pem", "server-cert.pem", "server-key.pem"])
        let keyMode = (try FileManager.default.attributesOfItem(atPath: target + "/server-key.pem")[.posixPermissions] as? NSNumber)?.intValue
        #expect(keyMode == 0o600)
        // Again: nothing rewritten.
        let stamp = try FileManager.default.attributesOfItem(atPath: target + "/server-cert.pem")[.modificationDate] as? Date
        Thread.sleep(forTimeInterval: 0.02)
        try tls.installLocally(credentials, hostName: "local", directory: target)
        #expect(try FileManager.default.attributesOfItem(atPath: target + "/server-cert.pem")[.modificationDate] as? Date == stamp)

        // An install killed midway (the marker is written first, then some files): repaired.
        let halfway = state + "/halfway"
        try FileManager.default.createDirectory(atPath: halfway, withIntermediateDirectories: true)
        try (try tls.caFingerprint() + "\n").write(toFile: halfway + "/.cvmctl-ca", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: credentials.caCert, toPath: halfway + "/ca-cert.pem")
        try tls.installLocally(credentials, hostName: "local", directory: halfway)
        #expect(try FileManager.default.contentsOfDirectory(atPath: halfway).sorted() == names)

        // Someone else's certificates (no marker): refused with what to do, nothing touched.
        let theirs = state + "/theirs"
        try FileManager.default.createDirectory(atPath: theirs, withIntermediateDirectories: true)
        try "not ours".write(toFile: theirs + "/ca-cert.pem", atomically: true, encoding: .utf8)
        #expect {
            try tls.installLocally(credentials, hostName: "local", directory: theirs)
        } throws: { error in
            "\(error)".contains("did not install") && "\(error)".contains("move them away")
        }
        #expect(try String(contentsOfFile: theirs + "/ca-cert.pem", encoding: .utf8) == "not ours")
        #expect(try FileManager.default.contentsOfDirectory(atPath: theirs) == ["ca-cert.pem"])
    }
}
