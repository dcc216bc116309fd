@testable import SSHClient
import Foundation
import Testing

/// known_hosts parsing and checking through libssh2, without any host.
struct KnownHostsTests {
    /// A generated key: its `TYPE BASE64` text and its raw wire blob.
    private struct Key {
        var text: String
        var blob: [UInt8]
    }

    private func makeKey(_ scratch: SSHScratchDirectory, _ name: String, type: String = "ed25519") throws -> Key {
        let path = scratch.path + "/" + name
        try SSHTestShell.check(["ssh-keygen", "-q", "-t", type, "-N", "", "-f", path])
        let text = try scratch.publicKey(path)
        let base64 = String(text.split(separator: " ")[1])
        return Key(text: text, blob: [UInt8](try #require(Data(base64Encoded: base64))))
    }

    @Test func matchesMismatchesAndMisses() throws {
        let scratch = try SSHScratchDirectory()
        let pinned = try makeKey(scratch, "pinned")
        let other = try makeKey(scratch, "other")
        let file = try scratch.write("known_hosts", "# comment\n10.1.2.3 \(pinned.text)\n")
        let hosts = try KnownHosts(path: file, missingIsEmpty: false)
        #expect(try hosts.check(host: "10.1.2.3", port: 22, key: pinned.blob, type: .ed25519) == .match)
        #expect(try hosts.check(host: "10.1.2.3", port: 22, key: other.blob, type: .ed25519) == .mismatch)
        #expect(try hosts.check(host: "10.1.2.4", port: 22, key: pinned.blob, type: .ed25519) == .notFound)
    }

    @Test func portEntriesUseBrackets() throws {
        let scratch = try SSHScratchDirectory()
        let pinned = try makeKey(scratch, "pinned")
        let file = try scratch.write("known_hosts", "[10.1.2.3]:2222 \(pinned.text)\n")
        let hosts = try KnownHosts(path: file, missingIsEmpty: false)
        #expect(try hosts.check(host: "10.1.2.3", port: 2222, key: pinned.blob, type: .ed25519) == .match)
        #expect(try hosts.check(host: "10.1.2.3", port: 22, key: pinned.blob, type: .ed25519) == .notFound)
        #expect(hosts.keyTypes(host: "10.1.2.3", port: 2222) == [.ed25519])
        #expect(hosts.keyTypes(host: "10.1.2.3", port: 22).isEmpty)
    }

    @Test func aHostPinnedUnderAnotherKeyTypeIsAMismatchNotUnknown() throws {
        let scratch = try SSHScratchDirectory()
        let rsa = try makeKey(scratch, "rsa", type: "rsa")
        let presented = try makeKey(scratch, "presented")
        let file = try scratch.write("known_hosts", "10.1.2.3 \(rsa.text)\n")
        let hosts = try KnownHosts(path: file, missingIsEmpty: false)
        #expect(try hosts.check(host: "10.1.2.3", port: 22, key: presented.blob, type: .ed25519) == .mismatch)
    }

    @Test func keyTypesComeInPreferenceOrder() throws {
        let scratch = try SSHScratchDirectory()
        let rsa = try makeKey(scratch, "rsa", type: "rsa")
        let ed = try makeKey(scratch, "ed")
        let ecdsa = try makeKey(scratch, "ecdsa", type: "ecdsa")
        let file = try scratch.write("known_hosts", """
            10.1.2.3 \(rsa.text)
            10.9.9.9 \(ecdsa.text)
            10.1.2.3 \(ed.text)

            """)
        let hosts = try KnownHosts(path: file, missingIsEmpty: false)
        #expect(hosts.keyTypes(host: "10.1.2.3", port: 22) == [.ed25519, .rsa])
        #expect(hosts.keyTypes(host: "10.1.2.3", port: 22).flatMap(\.hostKeyAlgorithms)
                == ["ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"])
    }

    @Test func hashedEntriesStillMatch() throws {
        let scratch = try SSHScratchDirectory()
        let pinned = try makeKey(scratch, "pinned")
        let file = try scratch.write("known_hosts", "10.1.2.3 \(pinned.text)\n")
        try SSHTestShell.check(["ssh-keygen", "-H", "-f", file])
        #expect(try String(contentsOfFile: file, encoding: .utf8).hasPrefix("|1|"))
        let hosts = try KnownHosts(path: file, missingIsEmpty: false)
        #expect(try hosts.check(host: "10.1.2.3", port: 22, key: pinned.blob, type: .ed25519) == .match)
        #expect(hosts.keyTypes(host: "10.1.2.3", port: 22) == [.ed25519])
        #expect(hosts.keyTypes(host: "10.1.2.4", port: 22).isEmpty)
    }

    @Test func missingFileIsAnErrorUnlessAllowed() throws {
        let scratch = try SSHScratchDirectory()
        #expect(throws: KnownHosts.LoadError.self) {
            _ = try KnownHosts(path: scratch.path + "/absent", missingIsEmpty: false)
        }
        let empty = try KnownHosts(path: scratch.path + "/absent", missingIsEmpty: true)
        #expect(try empty.check(host: "10.1.2.3", port: 22, key: [1, 2, 3], type: .ed25519) == .notFound)
    }

    @Test func linesFollowOpenSSH() throws {
        let blob: [UInt8] = Array("key-bytes".utf8)
        #expect(KnownHosts.line(host: "10.1.2.3", port: 22, type: .ed25519, key: blob)
                == "10.1.2.3 ssh-ed25519 a2V5LWJ5dGVz")
        #expect(KnownHosts.line(host: "10.1.2.3", port: 2222, type: .ecdsa256, key: blob)
                == "[10.1.2.3]:2222 ecdsa-sha2-nistp256 a2V5LWJ5dGVz")
    }

    @Test func appendStartsANewLineAndTheResultReadsBack() throws {
        let scratch = try SSHScratchDirectory()
        let first = try makeKey(scratch, "first")
        let second = try makeKey(scratch, "second")
        let file = try scratch.write("known_hosts", "10.1.2.3 \(first.text)")  // no final newline
        try KnownHosts.append(line: KnownHosts.line(host: "10.1.2.4", port: 22, type: .ed25519, key: second.blob), to: file)
        #expect(try String(contentsOfFile: file, encoding: .utf8)
                == "10.1.2.3 \(first.text)\n10.1.2.4 \(second.text)\n")
        let hosts = try KnownHosts(path: file, missingIsEmpty: false)
        #expect(try hosts.check(host: "10.1.2.4", port: 22, key: second.blob, type: .ed25519) == .match)
        #expect(try hosts.check(host: "10.1.2.3", port: 22, key: first.blob, type: .ed25519) == .match)
    }

    @Test func appendCreatesAPrivateFile() throws {
        let scratch = try SSHScratchDirectory()
        let file = scratch.path + "/new_known_hosts"
        try KnownHosts.append(line: "10.1.2.3 ssh-ed25519 AAAA", to: file)
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "10.1.2.3 ssh-ed25519 AAAA\n")
    }

}
