import Foundation

/// What placement needs to know about this machine that the host registry does not hold for
/// the local host: its size and how busy it is.
public struct LocalMachine: Sendable, Hashable {
    public var cpus: Int
    public var memoryMiB: Int
    /// The 1-minute load average over the CPU count, 0...1.
    public var load: Double

    public init(cpus: Int, memoryMiB: Int, load: Double) {
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.load = load
    }

    /// This machine now (`/proc/loadavg`; load 0 when it cannot be read).
    public static func current() -> LocalMachine {
        let cpus = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let memory = Int(ProcessInfo.processInfo.physicalMemory >> 20)
        var load = 0.0
        if let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
           let first = text.split(separator: " ").first, let average = Double(first) {
            load = min(1, max(0, average / Double(cpus)))
        }
        return LocalMachine(cpus: cpus, memoryMiB: memory, load: load)
    }

    /// Whether the process that took ownership (`pid`, started at `start`) still runs here.
    public static func isAlive(_ pid: Int32, start: Int64?) -> Bool {
        ProcessLiveness.isAlive(pid, start: start)
    }
}
