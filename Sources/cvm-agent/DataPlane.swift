import CVMProtocol
import Glibc

/// The traffic manager's data plane in this CVM (image cvm-tms): `/bin/cvm-tms`, started at
/// boot in standby (loaded and waiting for its configuration file: starting a 100 MB binary
/// under TCG takes seconds, which a backup that must serve at once cannot wait), given the
/// configuration of the first `serve` command, sent SIGHUP for each later one (a reload that
/// keeps connections), restarted a second after it dies once configured. Its status file
/// becomes the heartbeat's ``ServiceReport``. Without the binary (image cvm-base) a `serve`
/// is acknowledged and reported as not serving.
struct DataPlane {
    static let binary = "/bin/cvm-tms"
    static let configPath = "/tmp/cvm-tms.yaml"
    static let statusPath = "/tmp/cvm-tms.status"
    /// Why the data plane refused the configuration its status line names `rejected`.
    static let reasonPath = "/tmp/cvm-tms.status.reason"

    private(set) var pid: pid_t?
    private var configured = false
    private var restartAtMs: Int64?

    static var isInstalled: Bool { access(binary, X_OK) == 0 }

    /// Writes the configuration and starts or reloads the data plane. Returns what happened,
    /// for the console.
    mutating func serve(config: String) -> String {
        guard FileIO.writeAtomically(Self.configPath, Array(config.utf8), mode: 0o600) else {
            return "cannot write \(Self.configPath): \(Console.errnoText())"
        }
        configured = true
        wantedConfig = ServiceReport.configDigest(of: config)
        guard Self.isInstalled else { return "no \(Self.binary) in this image: not serving" }
        if let pid {
            kill(pid, SIGHUP)
            return "reloading (pid \(pid))"
        }
        return start()
    }

    /// Reaps an exited data plane and restarts it (after a second) while configured.
    mutating func supervise(nowMs: Int64) {
        if let pid {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid {
                Console.log("cvm-tms (pid \(pid)) exited (status \(status)); restarting in 1 s")
                self.pid = nil
                unlink(Self.statusPath)
                restartAtMs = nowMs + 1000
            }
        }
        if pid == nil, configured, Self.isInstalled, let at = restartAtMs, nowMs >= at {
            restartAtMs = nil
            Console.log(start())
        }
    }

    /// What the last heartbeat said: serving or not, and with which configuration.
    private var announcedServing = false
    private var announcedConfig: UInt64 = 0
    private var announcedRejected: UInt64 = 0
    /// The digest of the configuration the last `serve` brought.
    private(set) var wantedConfig: UInt64 = 0

    /// Configured, running, and not yet announced as serving the configuration last sent.
    var awaitsServing: Bool {
        configured && pid != nil && !(announcedServing && announcedConfig == wantedConfig) && announcedRejected != wantedConfig
    }

    /// Whether the data plane now serves the configuration last sent.
    var servesWantedConfig: Bool {
        guard let report = report() else { return false }
        return report.serving && report.config == wantedConfig
    }

    /// Whether the data plane refused the configuration last sent (the heartbeat says why).
    var rejectsWantedConfig: Bool { report()?.rejected == wantedConfig }

    /// Starts the data plane in standby (no configuration yet), if this image has one.
    mutating func prestart() -> String {
        guard Self.isInstalled, pid == nil else { return "no data plane in this image" }
        unlink(Self.configPath)
        return start() + ", in standby"
    }

    /// ``report()``, remembered as announced.
    mutating func reportForHeartbeat() -> ServiceReport? {
        let report = report()
        announcedServing = report?.serving == true
        announcedConfig = report?.config ?? 0
        announcedRejected = report?.rejected ?? 0
        return report
    }

    /// The data plane's report: nil while never configured.
    func report() -> ServiceReport? {
        guard configured else { return nil }
        guard pid != nil, let text = FileIO.readText(Self.statusPath), var report = ServiceReport(statusLine: text) else {
            return ServiceReport(serving: false)
        }
        // A configuration the data plane refused: its reason goes with the heartbeat (bounded).
        if report.rejected != 0 {
            let reason = FileIO.read(Self.reasonPath, limit: 1024).map { String(decoding: $0.prefix(1024), as: UTF8.self) } ?? "no reason given"
            report = ServiceReport(serving: report.serving, active: report.active, opened: report.opened, bytes: report.bytes,
                                   spills: report.spills, config: report.config, rejected: report.rejected, rejectReason: reason)
        }
        return report
    }

    private mutating func start() -> String {
        var child: pid_t = 0
        let argv = [Self.binary, Self.configPath, Self.statusPath]
        let cStrings = argv.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        var pointers = cStrings + [nil]
        let result = posix_spawn(&child, Self.binary, nil, nil, &pointers, environ)
        guard result == 0 else {
            restartAtMs = Clock.monotonicMs() + 1000
            return "cannot start \(Self.binary): \(Console.errnoText(result))"
        }
        pid = child
        return "started \(Self.binary) (pid \(child))"
    }
}
