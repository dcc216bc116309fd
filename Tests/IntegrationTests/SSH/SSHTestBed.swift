import Foundation
import Testing

/// One host of the test bed, as `scripts/testbed.sh` lists it in `STATE/hosts.json`.
struct SSHTestBedHost: Decodable, Sendable {
    var name: String
    var address: String
    var sshPort: Int
    var user: String
    var identity: String
    var knownHosts: String
    /// `ssh-ed25519 AAAA…`
    var hostKey: String
    /// `ssh-rsa AAAA…`
    var hostKeyRSA: String
    var imageDir: String
}

/// The namespaced hosts of `scripts/testbed.sh`, shared by every suite of this process.
///
/// The first suite to need them brings them up (`testbed.sh up 1`) unless a healthy test
/// bed is already running — then it is used and left alone. The last suite to finish
/// tears down what this process brought up.
actor SSHTestBed {
    static let shared = SSHTestBed()

    private var users = 0
    private var owned = false
    private var hosts: [SSHTestBedHost] = []

    /// STATE of the test bed (`TESTBED_STATE`, default /var/tmp/cvm-testbed).
    static var stateDirectory: String {
        ProcessInfo.processInfo.environment["TESTBED_STATE"] ?? "/var/tmp/cvm-testbed"
    }

    /// `scripts/testbed.sh` of this checkout (`CVM_TESTBED_SCRIPT` overrides).
    static var script: String {
        if let path = ProcessInfo.processInfo.environment["CVM_TESTBED_SCRIPT"] { return path }
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("scripts/testbed.sh").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return "scripts/testbed.sh"
    }

    func acquire() throws -> [SSHTestBedHost] {
        if users == 0 {
            if let running = try? Self.readHosts(), !running.isEmpty,
               (try? SSHTestShell.run([Self.script, "status"]).status) == 0 {
                hosts = running
                owned = false
            } else {
                let up = try SSHTestShell.run([Self.script, "up", "1"])
                guard up.status == 0 else { throw SSHTestBedError(message: "testbed.sh up 1 failed: \(up.output)") }
                hosts = try Self.readHosts()
                owned = true
            }
        }
        users += 1
        return hosts
    }

    func release() {
        users -= 1
        if users == 0, owned {
            _ = try? SSHTestShell.run([Self.script, "down"])
            owned = false
        }
    }

    /// The first host (cvmh2). Only valid inside a suite with the `.sshTestBed` trait.
    func firstHost() throws -> SSHTestBedHost {
        guard let host = hosts.first else { throw SSHTestBedError(message: "test bed not acquired: add the .sshTestBed trait") }
        return host
    }

    private static func readHosts() throws -> [SSHTestBedHost] {
        struct Description: Decodable { var hosts: [SSHTestBedHost] }
        let data = try Data(contentsOf: URL(fileURLWithPath: stateDirectory + "/hosts.json"))
        return try JSONDecoder().decode(Description.self, from: data).hosts
    }
}

struct SSHTestBedError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Suite trait: the test bed is up while the suite runs.
struct SSHTestBedTrait: SuiteTrait, TestScoping {
    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        _ = try await SSHTestBed.shared.acquire()
        do {
            try await function()
        } catch {
            await SSHTestBed.shared.release()
            throw error
        }
        await SSHTestBed.shared.release()
    }
}

extension Trait where Self == SSHTestBedTrait {
    static var sshTestBed: Self { Self() }
}

/// Runs local programs for the tests (ssh-keygen, sha256sum, testbed.sh).
enum SSHTestShell {
    /// Runs `arguments` (absolute path or a name on PATH) and returns its exit status and
    /// combined stdout + stderr.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Like `run`, but throws unless the program exits with 0; returns its output.
    @discardableResult
    static func check(_ arguments: [String]) throws -> String {
        let result = try run(arguments)
        guard result.status == 0 else {
            throw SSHTestBedError(message: "\(arguments.joined(separator: " ")) exited \(result.status): \(result.output)")
        }
        return result.output
    }
}

/// A fresh local directory, removed when the value is deinitialized.
final class SSHScratchDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("ssh-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Generates an ed25519 key pair at `name` (and `name.pub`); returns the private key path.
    func makeKey(_ name: String) throws -> String {
        let key = path + "/" + name
        try SSHTestShell.check(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ssh-tests", "-f", key])
        return key
    }

    /// Writes `text` to `name` and returns the path.
    func write(_ name: String, _ text: String) throws -> String {
        let file = path + "/" + name
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// The `TYPE BASE64` part of a public key file.
    func publicKey(_ privateKeyPath: String) throws -> String {
        let text = try String(contentsOfFile: privateKeyPath + ".pub", encoding: .utf8)
        return text.split(separator: " ").prefix(2).joined(separator: " ")
    }
}
