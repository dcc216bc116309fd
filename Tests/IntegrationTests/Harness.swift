@testable import Libvirt
import Foundation
import Orchestrator
import Testing

/// Runs the real `cvmctl` binary against the real libvirtd, with a private state directory.
struct CLIHarness {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static var binary: String {
        ProcessInfo.processInfo.environment["CVMCTL_BIN"] ?? repoRoot + "/.build/debug/cvmctl"
    }

    let state: String
    var images: String = CLIHarness.repoRoot + "/images"
    var environment: [String: String] = ["CVM_VIRT_TYPE": "qemu"]

    init() throws {
        state = NSTemporaryDirectory() + "cvm-it-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
        var errorLines: [String] { stderr.split(separator: "\n").map(String.init).filter { $0.hasPrefix("cvmctl: error:") } }
    }

    func process(_ arguments: [String]) -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        // Global options belong to the leaf command; `--help` runs take none.
        p.arguments = arguments.contains("--help") ? arguments : arguments + ["--state", state, "--images", images]
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        return p
    }

    @discardableResult
    func run(_ arguments: String...) throws -> Output { try run(arguments) }

    @discardableResult
    func run(_ arguments: [String]) throws -> Output {
        let p = process(arguments)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read before waiting so a full pipe cannot block the child.
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        var stderr = String(decoding: e, as: UTF8.self)
        if p.terminationReason == .uncaughtSignal {
            // Say so: a crash otherwise shows as a bare non-zero status.
            stderr += "[harness: cvmctl \(arguments.prefix(2).joined(separator: " ")) killed by signal \(p.terminationStatus)]\n"
        }
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: stderr)
    }

    func json<T: Decodable>(_ type: T.Type, _ arguments: String...) throws -> T {
        try json(type, arguments)
    }

    /// `accepting`: exit statuses that still carry a report (`status`: 2 and 3).
    func json<T: Decodable>(_ type: T.Type, _ arguments: [String], accepting: Set<Int32> = [0]) throws -> T {
        let out = try run(arguments + ["--json"])
        guard accepting.contains(out.status) else {
            throw HarnessError.failed("exit \(out.status): \(out.stderr)stdout: \(out.stdout.suffix(2000))")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: Data(out.stdout.utf8))
    }

    /// `cvmctl status --json` (exit 2 or 3 still report: a failed CVM, a mismatch).
    func status() throws -> StatusReport { try json(StatusReport.self, ["status"], accepting: [0, 2, 3]) }

    /// What libvirt and the disk hold for a CVM name: nothing, after a rollback.
    func traces(of name: String) throws -> [String] {
        var found: [String] = []
        let connection = try LibvirtConnection(uri: "qemu:///system")
        if try connection.lookupDomain(name: "cvm-\(name)") != nil { found.append("domain cvm-\(name)") }
        let volumes = state + "/local/volumes"
        for file in (try? FileManager.default.contentsOfDirectory(atPath: volumes)) ?? [] where file.hasPrefix("\(name)-") {
            found.append("volume \(file)")
        }
        let store = try Store(directory: state)
        if try store.cvm(named: name) != nil { found.append("store row \(name)") }
        return found
    }

    /// Decommissions whatever is left and removes the state directory and its pool.
    func cleanUp() {
        if let report = try? status() {
            for c in report.cvms { _ = try? run("decommission", c.name, "--grace", "0") }
        }
        if let hosts = try? Store(directory: state).hosts() {
            for h in hosts where h.name != "local" { _ = try? run("host", "remove", h.name) }
        }
        if let connection = try? LibvirtConnection(uri: "qemu:///system") {
            let orchestrator = try? CVMOrchestrator(configuration: .init(stateDirectory: state, imagesDirectory: images))
            if let pool = try? connection.lookupStoragePool(name: orchestrator?.localPoolName ?? "") { try? pool.destroy() }
        }
        try? FileManager.default.removeItem(atPath: state)
    }

    /// A catalog in a temporary folder holding a copy of the built cvm-base image, to break.
    func copyCatalog() throws -> String {
        let root = state + "/catalog"
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/cvm-base/build", withIntermediateDirectories: true)
        let source = Self.repoRoot + "/images/cvm-base"
        try fm.copyItem(atPath: source + "/manifest.yaml", toPath: root + "/cvm-base/manifest.yaml")
        for file in ["vmlinuz", "initrd.img", "manifest.lock"] {
            try fm.copyItem(atPath: source + "/build/" + file, toPath: root + "/cvm-base/build/" + file)
        }
        return root
    }
}

enum HarnessError: Error { case failed(String) }

/// Polls until `condition` holds or `timeout` passes.
func eventually(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(100_000)
    }
    return try condition()
}

/// A `cvmctl tms run --config CONFIG` started for a test, its output going to
/// `STATE/NAME.log`; stopped (SIGTERM, waited for) by `stop()`.
final class TmsRun: @unchecked Sendable {
    let process: Process
    let log: String

    init(_ cli: CLIHarness, config: String, name: String = "tms") throws {
        process = cli.process(["tms", "run", "--config", config])
        log = cli.state + "/\(name).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    /// What it logged so far.
    func text() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

extension CLIHarness {
    /// `cvmctl ARGUMENTS` started in the background, its output going to `log`.
    func background(_ arguments: [String], log: String) throws -> Process {
        let process = process(arguments)
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }
}

extension Process {
    /// SIGTERM, then waits for the exit (nothing when it already ended).
    func stopAndWait() {
        guard isRunning else { return }
        terminate()
        waitUntilExit()
    }
}
