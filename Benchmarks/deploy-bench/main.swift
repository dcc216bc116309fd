import Libvirt
// Deploy benchmark: time from asking to the CVM's first heartbeat, through `cvmctl deploy`
// and through plain libvirt (define + start of the same image with the same per-CVM
// initrd and disk, prepared beforehand, reading the same channel), several runs each.
// Prints both medians and their ratio. Usage: deploy-bench [runs] (needs a built image
// and a running libvirtd; run scripts/bench-deploy.sh).
import CVMProtocol
import Foundation
import Orchestrator

let runs = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 5 : 5
let repo = FileManager.default.currentDirectoryPath
let cvmctl = ProcessInfo.processInfo.environment["CVMCTL_BIN"] ?? repo + "/.build/release/cvmctl"
let state = NSTemporaryDirectory() + "cvm-bench-" + UUID().uuidString.prefix(8).lowercased()
let images = repo + "/images"

func run(_ args: [String]) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: cvmctl)
    p.arguments = args + ["--state", state, "--images", images, "--virt-type", "qemu", "-q"]
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

// Warm the image cache and the page cache once, untimed, like an operator's second deploy.
guard try run(["deploy", "--image", "cvm-base", "--name", "warm"]) == 0, try run(["decommission", "warm"]) == 0 else {
    print("warm-up deploy failed; is libvirtd running and the image built?")
    exit(1)
}

var ours: [Double] = []
var plain: [Double] = []
let clock = ContinuousClock()
let orchestrator = try CVMOrchestrator(configuration: .init(stateDirectory: state, imagesDirectory: images, virtType: .qemu))
let connection = try LibvirtConnection(uri: "qemu:///system")
let image = try orchestrator.catalog.verified("cvm-base")

for i in 0..<runs {
    // 1. cvmctl deploy, end to end (process start, checks, staging, define, start, heartbeat).
    let t0 = clock.now
    guard try run(["deploy", "--image", "cvm-base", "--name", "ours\(i)"]) == 0 else { print("deploy failed"); exit(1) }
    ours.append(seconds(clock.now - t0))
    _ = try run(["decommission", "ours\(i)", "--grace", "0"])

    // 2. Plain libvirt: same volumes prepared outside the timing, then define + start + first heartbeat.
    let prepared = try await orchestrator.preparePlainDomain(name: "plain\(i)", image: image)
    let t1 = clock.now
    let domain = try connection.defineDomain(xml: prepared.xml)
    try domain.start()
    let stream = try LibvirtStream(connection: connection, nonBlocking: false)
    try domain.openChannel(alias: AgentChannel.alias, into: stream)
    var seen: [UInt8] = []
    while !String(decoding: seen, as: UTF8.self).contains("CVM1 HB") {
        guard case .bytes(let b) = try stream.receive(maxBytes: 4096) else { break }
        seen += b
    }
    plain.append(seconds(clock.now - t1))
    stream.abort()
    try domain.destroy()
    try domain.undefine()
    try await prepared.cleanup()
}

let o = median(ours), p = median(plain)
print("deploy to first heartbeat, \(runs) runs each (TCG guest, 128 MiB)")
print(String(format: "  cvmctl deploy (whole command):        median %.3f s   runs: %@", o, ours.map { String(format: "%.2f", $0) }.joined(separator: " ")))
print(String(format: "  plain libvirt define+start+heartbeat: median %.3f s   runs: %@", p, plain.map { String(format: "%.2f", $0) }.joined(separator: " ")))
print(String(format: "  ratio cvmctl/plain: %.3f  (orchestrator adds %.1f %%; goal < 10 %%)", o / p, (o / p - 1) * 100))
if let pool = try? connection.lookupStoragePool(name: orchestrator.localPoolName ?? "") { try? pool.destroy() }
try? FileManager.default.removeItem(atPath: state)
