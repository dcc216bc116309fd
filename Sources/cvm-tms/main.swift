import CVMProtocol
import Foundation
import Logging
import ServiceLifecycle
import TrafficManager

// The traffic manager's data plane inside a CVM (image cvm-tms): the same TrafficManager code
// as `cvmctl tms run`, as a static binary the guest agent starts.
// Usage: cvm-tms CONFIG STATUS
//   CONFIG  the configuration the orchestrator sent over the signed agent channel (YAML);
//           SIGHUP re-reads it, SIGTERM drains and exits. Until the file exists the process
//           waits in standby (the agent starts it at boot).
//   STATUS  rewritten twice a second with one line the agent puts in its heartbeats:
//           `serving=1 connections=N opened=N bytes=N spills=N config=N` (totals over all
//           vServers; config: the digest of the configuration in force, see ServiceReport).
// There is no admin endpoint inside the guest: the agent is the only reader.

// The data plane yields the CPU to the agent (PID 1): under load its heartbeats must keep
// coming, or the monitor takes a busy CVM for a hung one. Before any thread exists, so every
// event loop inherits it.
_ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: cvm-tms CONFIG STATUS\n".utf8))
    exit(2)
}
let configPath = arguments[1], statusPath = arguments[2]
var logger = Logger(label: "cvm.tms")
logger.logLevel = .notice

// A SIGHUP before the service's own handler exists must not end the process (the agent sends
// one with every `serve`, and may do so while this one still starts).
signal(SIGHUP, SIG_IGN)

// Standby: started at boot, before any configuration came. The code a configuration needs is
// run once on a sample (under TCG, first execution is what costs), then the file is awaited.
if access(configPath, R_OK) != 0 {
    _ = try? TMSConfig.parse("""
        cores: 1
        vServers:
          - name: standby
            bind: 127.0.0.1:1
            mode: http
            services: [{ name: s, address: 127.0.0.1:2, capacity: 1 }]
        """, file: "standby")
    while access(configPath, R_OK) != 0 { usleep(20_000) }
}

// The main thread blocks here instead of running an async main: an async main ends the main
// thread with pthread_exit, whose forced unwind makes libgcc sort every frame description of
// this 100 MB static binary first — measured as 60 % of the start's CPU, seconds under TCG.
let finished = DispatchSemaphore(value: 0)
let logged = logger
Task.detached {
    do {
        var config = acceptedConfig()
        config.admin.address = nil
        let manager = TrafficManager(config: config, configFile: configPath, cores: config.cores, logger: logged)
        let status = StatusWriter(manager: manager, path: statusPath)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: TrafficManagerService(manager: manager)), .init(service: status)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logged))
        try await group.run()
    } catch {
        FileHandle.standardError.write(Data("cvm-tms: \(error)\n".utf8))
        exit(1)
    }
    finished.signal()
}
finished.wait()
exit(0)

/// The configuration in the file, once this data plane accepts it: one that does not load, or
/// that only a guest can tell is wrong (``TMSConfig/guestProblem``), is reported in the status
/// file (`serving=0 rejected=DIGEST`, the reason in `STATUS.reason`: the agent puts both in its
/// heartbeats, and `serve` fails at once with the reason) and the file is watched until the
/// next `serve` replaces it. (Exiting instead would have the agent restart this process every
/// second, with the same file.)
func acceptedConfig() -> TMSConfig {
    let reasonPath = statusPath + ".reason"
    while true {
        let text = (try? String(contentsOfFile: configPath, encoding: .utf8)) ?? ""
        let reason: String
        do {
            let config = try TMSConfig.parse(text, file: configPath)
            guard let problem = config.guestProblem else {
                try? FileManager.default.removeItem(atPath: reasonPath)
                return config
            }
            reason = problem
        } catch {
            reason = "\(error)"
        }
        let digest = ServiceReport.configDigest(of: text)
        FileHandle.standardError.write(Data("cvm-tms: configuration refused: \(reason)\n".utf8))
        _ = FileManager.default.createFile(atPath: reasonPath, contents: Data(reason.utf8))
        let temporary = statusPath + ".tmp"
        if FileManager.default.createFile(atPath: temporary, contents: Data("serving=0 rejected=\(digest)\n".utf8)) {
            _ = rename(temporary, statusPath)
        }
        while ((try? String(contentsOfFile: configPath, encoding: .utf8)).map(ServiceReport.configDigest(of:)) ?? digest) == digest {
            usleep(100_000)
        }
    }
}

/// Writes the status line every 500 ms once serving, every 50 ms before (atomically: a
/// temporary file renamed over it).
struct StatusWriter: Service {
    let manager: TrafficManager
    let path: String

    func run() async throws {
        try? await cancelWhenGracefulShutdown { await self.loop() }
        try? FileManager.default.removeItem(atPath: path)
    }

    private func loop() async {
        // The digest of the configuration in force: the file's text, read again whenever the
        // generation changes (a reload that failed keeps the generation, and the old digest).
        var generation = -1
        var digest: UInt64 = 0
        while !Task.isCancelled {
            let serving = manager.table != nil
            if let current = manager.table?.generation, current != generation {
                generation = current
                digest = (try? String(contentsOfFile: manager.configFile ?? "", encoding: .utf8)).map(ServiceReport.configDigest(of:)) ?? 0
            }
            var connections = 0, opened = 0, bytes = 0, spills = 0
            for task in manager.latestUsage?.tasks ?? [] where task.kind == .vserver {
                connections += task.totals.activeConnections
                opened += task.totals.connections
                bytes += task.totals.bytesIn + task.totals.bytesOut
                spills += task.totals.spills
            }
            let line = "serving=\(serving ? 1 : 0) connections=\(connections) opened=\(opened) bytes=\(bytes) spills=\(spills) config=\(digest)\n"
            let temporary = path + ".tmp"
            if FileManager.default.createFile(atPath: temporary, contents: Data(line.utf8)) {
                _ = rename(temporary, path)
            }
            // Every 50 ms until it serves (the agent announces that at once), then every 500 ms.
            try? await Task.sleep(for: .milliseconds(serving ? 500 : 50))
        }
    }
}
