import Libvirt
// Migration benchmark: the same running CVM moved between two test-bed hosts with
// `cvmctl migrate` and with a plain libvirt live migration (same flags: live, persistent,
// undefine source, non-shared disk vda; same max downtime; destination disk pre-created as
// libvirt requires), alternating directions. Prints total-time and pause medians for both
// and the ratios. Usage: migrate-bench [runs] (run scripts/bench-migrate.sh).
import Foundation
import Orchestrator
import Synchronization

let runs = max(2, (CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 6 : 6) / 2 * 2)
let repo = FileManager.default.currentDirectoryPath
let cvmctl = ProcessInfo.processInfo.environment["CVMCTL_BIN"] ?? repo + "/.build/release/cvmctl"
let testbed = ProcessInfo.processInfo.environment["TESTBED_STATE"] ?? "/var/tmp/cvm-testbed"
let state = NSTemporaryDirectory() + "cvm-mbench-" + UUID().uuidString.prefix(8).lowercased()
let maxDowntime: UInt64 = 50

struct Hosts: Decodable {
    struct Host: Decodable { var name: String; var address: String; var identity: String; var hostKey: String }
    var hosts: [Host]
}

@discardableResult
func cvmctlRun(_ args: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: cvmctl)
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    env["CVM_STATE"] = state
    env["CVM_IMAGES"] = repo + "/images"
    env["CVM_VIRT_TYPE"] = "qemu"
    p.environment = env
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { print("cvmctl \(args.joined(separator: " ")) failed"); exit(1) }
    return String(decoding: data, as: UTF8.self)
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

let hosts = try JSONDecoder().decode(Hosts.self, from: Data(contentsOf: URL(fileURLWithPath: testbed + "/hosts.json"))).hosts
guard hosts.count >= 2 else { print("needs 2 test-bed hosts: scripts/testbed.sh up 2"); exit(1) }
let (a, b) = ("bench-a", "bench-b")
for (name, h) in zip([a, b], hosts) {
    try cvmctlRun(["host", "add", name, "--address", h.address, "--identity", h.identity, "--host-key", h.hostKey, "-q"])
}
try cvmctlRun(["deploy", "--image", "cvm-base", "--name", "mours", "--host", a, "-q"])
try cvmctlRun(["deploy", "--image", "cvm-base", "--name", "mplain", "--host", a, "-q"])

struct Result: Decodable { var totalMs: Int; var pauseMs: UInt64? }
var oursTotal: [Double] = [], oursPause: [Double] = []
var plainTotal: [Double] = [], plainPause: [Double] = []
let orchestrator = try CVMOrchestrator(configuration: .init(stateDirectory: state, imagesDirectory: repo + "/images", virtType: .qemu))
let clock = ContinuousClock()

for i in 0..<runs {
    let (from, to) = i % 2 == 0 ? (a, b) : (b, a)
    // cvmctl migrate, the whole command as an operator runs it.
    let t0 = clock.now
    let out = try cvmctlRun(["migrate", "mours", "--to", to, "--max-downtime", "\(maxDowntime)", "--json", "-q"])
    let wall = clock.now - t0
    let r = try JSONDecoder().decode(Result.self, from: Data(out.utf8))
    oursTotal.append(Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18)
    oursPause.append(Double(r.pauseMs ?? 0))

    // Plain libvirt: destination prepared beforehand, then open both connections, set the
    // max downtime and migrate with the same parameters (what `virsh migrate` does).
    let plan = try await orchestrator.preparePlainMigration(cvm: "mplain", from: from, to: to)
    let downtime = Mutex<UInt64?>(nil)
    let t1 = clock.now
    let source = try LibvirtConnection(uri: plan.sourceURI)
    let destination = try LibvirtConnection(uri: plan.destinationURI)
    let registration = try source.onJobCompleted { e in downtime.withLock { $0 = e.downtimeMs } }
    let domain = try source.lookupDomain(name: plan.domainName)!
    try domain.setMaxDowntime(milliseconds: maxDowntime)
    _ = try domain.migrate(to: destination, options: plan.options)
    let plainWall = clock.now - t1
    for _ in 0..<40 where downtime.withLock({ $0 == nil }) { usleep(50_000) }
    plainTotal.append(Double(plainWall.components.seconds) + Double(plainWall.components.attoseconds) / 1e18)
    plainPause.append(Double(downtime.withLock { $0 } ?? 0))
    _ = registration
    try await plan.removeSourceVolumes()
}

let (ot, pt, op, pp) = (median(oursTotal), median(plainTotal), median(oursPause), median(plainPause))
print("live migration between two test-bed hosts, \(runs) runs each (TCG guest 128 MiB, 64 MiB disk copied, max downtime \(maxDowntime) ms)")
print(String(format: "  cvmctl migrate: total median %.3f s, pause median %.0f ms   totals: %@  pauses: %@", ot, op,
             oursTotal.map { String(format: "%.2f", $0) }.joined(separator: " "), oursPause.map { String(format: "%.0f", $0) }.joined(separator: " ")))
print(String(format: "  plain libvirt:  total median %.3f s, pause median %.0f ms   totals: %@  pauses: %@", pt, pp,
             plainTotal.map { String(format: "%.2f", $0) }.joined(separator: " "), plainPause.map { String(format: "%.0f", $0) }.joined(separator: " ")))
print(String(format: "  ratio total cvmctl/plain: %.3f (goal <= 1.05); pause cvmctl/plain: %.2f (goal: pause < 100 ms)", ot / pt, op / max(pp, 1)))

try cvmctlRun(["decommission", "mours", "-q"])
try cvmctlRun(["decommission", "mplain", "-q"])
for name in [a, b] { try cvmctlRun(["host", "remove", name, "-q"]) }
try? FileManager.default.removeItem(atPath: state)
