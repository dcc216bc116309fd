import CVMProtocol
import Glibc

/// The agent's main loop: heartbeats out, commands in, over one virtio-serial port.
///
/// Single-threaded and poll-driven. Contract with the host:
/// * a signed `HB` every `config.intervalMs`, and one at once when a host (re)connects
///   after heartbeats were dropped;
/// * a heartbeat that cannot be written at once (no host, host not reading) is dropped —
///   its `seq` is used up all the same, so the host sees the gap;
/// * while no host is connected (POLLHUP) the loop sleeps in 100 ms steps instead of
///   polling a descriptor that is always "ready";
/// * `CMD` lines pass through `CommandGate`; accepted ones are answered with `ACK`;
///   `stop` also sends `BYE`, syncs and powers off; `configure` changes the role and the
///   peers (reported in every heartbeat from then on).
final class Agent {
    private let config: AgentConfig
    /// The role and cluster members now: from the configuration, then from `configure`.
    private var role: AgentConfig.Role
    private var peers: [String]
    private let boot = Syscalls.randomUInt64()
    private let isInit: Bool
    private var port: VirtioPort?
    private var gate: CommandGate
    private var framer = LineFramer()
    private var sampler = UsageSampler()
    private var seq: UInt64 = 0
    private var hostConnected = false
    private var droppedSinceConnect = 0
    /// Whether the last heartbeat attempt reached the port (else greet a new host at once).
    private var lastHeartbeatWritten = false
    private var status: Heartbeat.Status = .ok
    /// Boot problems (mounts, modules) that make every heartbeat `degraded`.
    private let bootDegraded: Bool
    private var lastPortProblem = ""
    /// Set by a test through the kernel command line: see `FloodMode`.
    private let flood = FloodMode.fromKernelCommandLine()
    private var floodCounter: UInt64 = 0
    /// The NIC brought up on the CVM segment, if any (probes go out on it).
    private let interface: String?
    /// The last probe's command and result, for a repeated command (re-acknowledged as is).
    private var lastProbe: (seq: UInt64, result: ProbeResult)?
    /// The traffic manager's data plane (image cvm-tms), once a `serve` command came.
    private var dataPlane = DataPlane()

    init(config: AgentConfig, isInit: Bool, bootDegraded: Bool, interface: String? = nil) {
        self.interface = interface
        self.config = config
        role = config.role
        peers = config.peers
        self.isInit = isInit
        self.bootDegraded = bootDegraded
        self.gate = CommandGate(id: config.id, secret: config.secret)
    }

    func run() -> Never {
        if isInit { Console.log(dataPlane.prestart()) }
        var nextTick = Clock.monotonicMs()
        let interval = Int64(config.intervalMs)
        while true {
            guard let port = openPortIfNeeded() else {
                Clock.sleep(ms: 200)
                continue
            }
            var now = Clock.monotonicMs()
            dataPlane.supervise(nowMs: now)
            // A data plane that just started serving is announced at once, not at the next
            // tick: the traffic manager adds the CVM as soon as a heartbeat says it serves.
            // (Also when it serves a new configuration: `serve` waits for that one.)
            if dataPlane.awaitsServing, now < nextTick, dataPlane.servesWantedConfig || dataPlane.rejectsWantedConfig { nextTick = now }
            if now >= nextTick {
                sendHeartbeat(on: port)
                nextTick += interval
                if nextTick <= now { nextTick = now + interval }
            }
            if let flood, hostConnected { floodBurst(flood, on: port) }
            now = Clock.monotonicMs()
            // While disconnected, only peek (timeout 0) so a new connection is noticed
            // within 100 ms and greeted with a heartbeat at once. A flooding agent never waits.
            // While a data plane starts, its status is looked at every 100 ms.
            let patience = dataPlane.awaitsServing ? min(100, nextTick - now) : nextTick - now
            let readiness = port.wait(timeoutMs: hostConnected && flood == nil ? patience : 0)
            switch readiness {
            case .hostDisconnected:
                if hostConnected {
                    hostConnected = false
                    framer.reset()
                    Console.log("host disconnected from \(port.deviceName)")
                }
                Clock.sleep(ms: min(100, max(1, nextTick - Clock.monotonicMs())))
            case .idle, .readable:
                if !hostConnected {
                    hostConnected = true
                    Console.log("host connected"
                        + (droppedSinceConnect > 0 ? " (\(droppedSinceConnect) heartbeats dropped)" : ""))
                    droppedSinceConnect = 0
                    if !lastHeartbeatWritten { nextTick = Clock.monotonicMs() }
                }
                if case .readable = readiness { receive(on: port) }
            case .failed:
                Console.log("port \(port.deviceName) failed, reopening")
                self.port = nil
                hostConnected = false
            }
        }
    }

    // MARK: - Port

    private func openPortIfNeeded() -> VirtioPort? {
        if let port { return port }
        var problem = ""
        guard let opened = VirtioPort.open(channel: config.channel, problem: &problem) else {
            if problem != lastPortProblem {
                Console.log("waiting for channel: \(problem)")
                lastPortProblem = problem
            }
            return nil
        }
        lastPortProblem = ""
        Console.log("\(config.id) up, channel \(opened.deviceName)")
        port = opened
        return port
    }

    // MARK: - Heartbeats

    private func sendHeartbeat(on port: VirtioPort) {
        seq += 1
        let usage = sampler.sample()
        let heartbeat = Heartbeat(
            id: config.id, boot: boot, seq: seq, uptimeMs: UInt64(max(0, Clock.uptimeMs())),
            status: status == .ok && (bootDegraded || !usage.complete) ? .degraded : status,
            task: config.task, cpuPercent: usage.cpuPercent,
            memUsedKiB: usage.memUsedKiB, memTotalKiB: usage.memTotalKiB,
            diskReadBytes: usage.diskReadBytes, diskWriteBytes: usage.diskWriteBytes,
            netRxBytes: usage.netRxBytes, netTxBytes: usage.netTxBytes,
            connections: usage.connections, badCommands: gate.rejectedCount, role: role,
            service: dataPlane.reportForHeartbeat())
        let outcome = port.write(heartbeat.render(signedWith: config.secret), patienceMs: 0)
        lastHeartbeatWritten = outcome == .written
        switch outcome {
        case .written:
            break
        case .wouldBlock:
            droppedSinceConnect += 1
        case .partial:
            // Finish the line so the host's framer stays in step (a torn line is rejected
            // there as malformed, not merged with the next one).
            _ = port.write([UInt8(ascii: "\n")], patienceMs: 1000)
        case .failed(let code):
            Console.log("heartbeat write failed: \(Console.errnoText(code))")
        }
    }

    /// One burst of a hostile guest's flood (see `FloodMode`), written without waiting.
    private func floodBurst(_ mode: FloodMode, on port: VirtioPort) {
        floodCounter &+= 1
        if mode == .garbage || (mode == .mixed && floodCounter % 2 == 0) {
            _ = port.write(FloodMode.garbageBurst(counter: floodCounter), patienceMs: 0)
        } else {
            for _ in 0..<32 { sendHeartbeat(on: port) }
        }
    }

    // MARK: - Commands

    private func receive(on port: VirtioPort) {
        guard let bytes = port.readAvailable() else {
            // End of file: the host went away between poll and read. Poll reports
            // POLLHUP next time; sleep briefly so this path cannot spin either.
            Clock.sleep(ms: 100)
            return
        }
        for event in framer.feed(bytes) {
            switch event {
            case .line(let line):
                handle(line: line, on: port)
            case .overlong(let count):
                Console.log("dropped an over-long line (\(count) bytes) from the host")
            }
        }
    }

    private func handle(line: [UInt8], on port: VirtioPort) {
        switch gate.admit(line: line) {
        case .execute(let command):
            if command.op == .configure, let newRole = command.role {
                role = newRole
                peers = command.peers
                Console.log("configure (command \(command.seq)): role \(role.rawValue), peers \(peers.isEmpty ? "none" : peers.joined(separator: ","))")
            }
            if command.op == .serve, let text = command.config {
                Console.log("serve (command \(command.seq), \(text.utf8.count) bytes): \(dataPlane.serve(config: text))")
            }
            if command.op == .probe, let target = command.probe {
                let result = Probe.run(target, network: config.network, interface: interface)
                lastProbe = (command.seq, result)
                Console.log("probe (command \(command.seq)): \(target): \(result.rawValue)")
            }
            acknowledge(command, on: port)
            if command.op == .stop { stop(command, on: port) }
        case .reacknowledge(let command):
            acknowledge(command, on: port)
        case .reject(let reason):
            let count = gate.rejectedCount
            if count <= 10 || count % 100 == 0 {
                Console.log("rejected command #\(count): \(CommandRejectionText.describe(reason))")
            }
        }
    }

    private func acknowledge(_ command: Command, on port: VirtioPort) {
        let result = lastProbe.flatMap { $0.seq == command.seq ? $0.result : nil }
        let ack = Acknowledgement(id: config.id, boot: boot, seq: command.seq, op: command.op, result: result ?? .error)
        if port.write(ack.render(signedWith: config.secret), patienceMs: 2000) != .written {
            Console.log("could not acknowledge command \(command.seq)")
        }
    }

    private func stop(_ command: Command, on port: VirtioPort) -> Never {
        status = .stopping
        Console.log("stop (command \(command.seq)): powering off")
        let bye = Goodbye(id: config.id, boot: boot, seq: seq + 1, reason: "stop")
        _ = port.write(bye.render(signedWith: config.secret), patienceMs: 2000)
        PowerControl.powerOff(isInit: isInit)
    }
}
