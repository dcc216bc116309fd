import Libvirt
// Elastic reaction benchmark: the time from TMS usage crossing its offload threshold (the
// moment the synthetic usage file is rewritten) to the new CVM's first authenticated
// heartbeat, under `cvmctl elastic run`, next to a plain `cvmctl deploy` of the same image
// measured in the same run (alternating). Both end at the store's `startedAt` of the CVM,
// which deploy sets when the first heartbeat arrives. Prints both medians and the difference
// (goal: elastic reaction adds < 2 s), and where the reaction's time goes.
//
// Usage: elastic-bench [runs] [intervalSeconds]   (default 5 runs, 0.5 s evaluation interval)
// Needs a built image and a running libvirtd, like deploy-bench:
//   swift build -c release --product cvmctl --product elastic-bench
//   CVMCTL_BIN=.build/release/cvmctl .build/release/elastic-bench 5
import Foundation
import Orchestrator

let arguments = CommandLine.arguments
let runs = arguments.count > 1 ? Int(arguments[1]) ?? 5 : 5
let interval = arguments.count > 2 ? Double(arguments[2]) ?? 0.5 : 0.5
let cooldown = 2.0
let repoRoot = FileManager.default.currentDirectoryPath
let cvmctl = ProcessInfo.processInfo.environment["CVMCTL_BIN"] ?? repoRoot + "/.build/release/cvmctl"
let state = NSTemporaryDirectory() + "cvm-elastic-bench-" + UUID().uuidString.prefix(8).lowercased()
let images = repoRoot + "/images"
let policyRepo = state + "/policy-repo"
let usageFile = state + "/usage.jsonl"

func process(_ args: [String]) -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: cvmctl)
    p.arguments = args + ["--state", state, "--images", images, "--virt-type", "qemu", "-q"]
    p.standardOutput = FileHandle.nullDevice
    return p
}

@discardableResult
func cvmctlRun(_ args: [String]) throws -> Int32 {
    let p = process(args)
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
}

func git(_ args: String...) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["git", "-C", policyRepo, "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"] + args
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw BenchError.failed("git \(args.joined(separator: " "))") }
}

func writeUsage(_ cpuPercent: Double) throws {
    let line = "{\"time\": \(Date().timeIntervalSince1970), \"task\": \"health-monitor\", \"cpuPercent\": \(cpuPercent)}\n"
    try line.write(toFile: usageFile, atomically: true, encoding: .utf8)
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func format(_ xs: [Double]) -> String { xs.map { String(format: "%.2f", $0) }.joined(separator: " ") }

enum BenchError: Error { case failed(String) }

/// Polls `condition` every 10 ms until it returns a value or `timeout` passes.
func poll<T>(timeout: Double, _ condition: () throws -> T?) throws -> T {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if let value = try condition() { return value }
        usleep(10_000)
    }
    throw BenchError.failed("timed out after \(timeout) s")
}

// The policy: one local-only tier; health-monitor offloaded above 50 % CPU, at most one CVM.
try FileManager.default.createDirectory(atPath: policyRepo + "/policies", withIntermediateDirectories: true)
try """
clouds:
  here: {trust: local, hosts: [local]}
tiers:
  near: {security: local-only, allowedClouds: [here]}
tasks:
  health-monitor:
    image: cvm-base
    tier: near
    thresholds: {cpuPercent: 50}
    maxCVMs: 1
elastic:
  intervalSeconds: \(interval)
  cooldownSeconds: \(cooldown)
  hysteresisPercent: 20
  maxConcurrentActions: 1
  forecast: {method: holt, alpha: 0.5, beta: 0.5, horizonSeconds: 1, windowSeconds: 10}

""".write(toFile: policyRepo + "/policies/policy.yaml", atomically: true, encoding: .utf8)
try git("init", "-q", "-b", "main")
try git("add", "-A")
try git("commit", "-q", "-m", "bench policy")
try writeUsage(5)

// Warm the image cache and the page cache once, untimed.
guard try cvmctlRun(["deploy", "--image", "cvm-base", "--name", "warm"]) == 0, try cvmctlRun(["decommission", "warm", "--grace", "0"]) == 0 else {
    print("warm-up deploy failed; is libvirtd running and the image built (cvmctl image build cvm-base)?")
    exit(1)
}

let store = try Store(directory: state)
let elastic = process(["elastic", "run", "--repo", policyRepo, "--usage-file", usageFile, "--grace", "0"])
elastic.standardError = FileHandle.nullDevice
try elastic.run()
defer { if elastic.isRunning { elastic.terminate(); elastic.waitUntilExit() } }
_ = try poll(timeout: 10) { try store.events().contains { $0.kind == "elastic.started" } ? true : nil }

var plain: [Double] = []
var reaction: [Double] = []
var decision: [Double] = []
var deployInElastic: [Double] = []

for i in 0..<runs {
    // 1. A plain deploy: command start to the first heartbeat (the store's startedAt).
    let t0 = Date()
    guard try cvmctlRun(["deploy", "--image", "cvm-base", "--name", "plain\(i)"]) == 0,
          let started = try store.cvm(named: "plain\(i)")?.startedAt else { print("plain deploy failed"); exit(1) }
    plain.append(started.timeIntervalSince(t0))
    try cvmctlRun(["decommission", "plain\(i)", "--grace", "0"])

    // 2. Elastic: usage crosses the threshold; the new CVM's first heartbeat.
    Thread.sleep(forTimeInterval: cooldown + 1)  // past the cooldown of the previous scale-in
    let lastEvent = try store.events(after: 0, limit: Int.max).last?.id ?? 0
    let t1 = Date()
    try writeUsage(150)
    let cvm = try poll(timeout: 60) { try store.cvms().first { $0.policyCommit != nil && $0.startedAt != nil } }
    reaction.append(cvm.startedAt!.timeIntervalSince(t1))
    if let action = try store.events(after: lastEvent, limit: Int.max).first(where: { $0.kind == "elastic.action" && $0.cvm == cvm.name }) {
        decision.append(action.at.timeIntervalSince(t1))
        deployInElastic.append(cvm.startedAt!.timeIntervalSince(action.at))
    }

    // Usage falls: elastic retires it.
    try writeUsage(0)
    _ = try poll(timeout: 60) { try store.cvms().isEmpty ? true : nil }
    try writeUsage(5)
}

elastic.terminate()
elastic.waitUntilExit()

let p = median(plain), r = median(reaction)
print("elastic reaction vs plain deploy, to the CVM's first heartbeat, \(runs) runs each (TCG guest, evaluation interval \(interval) s)")
print(String(format: "  plain `cvmctl deploy` (command start -> first heartbeat):   median %.3f s   runs: %@", p, format(plain)))
print(String(format: "  elastic (usage crosses threshold -> first heartbeat):      median %.3f s   runs: %@", r, format(reaction)))
print(String(format: "  reaction adds %.3f s to the deploy (goal < 2 s)", r - p))
if !decision.isEmpty {
    print(String(format: "    of which: usage written -> deploy decided and started: median %.3f s   runs: %@", median(decision), format(decision)))
    print(String(format: "              deploy started -> first heartbeat:           median %.3f s   runs: %@", median(deployInElastic), format(deployInElastic)))
}

for cvm in (try? store.cvms()) ?? [] { _ = try? cvmctlRun(["decommission", cvm.name, "--grace", "0"]) }
if let connection = try? LibvirtConnection(uri: "qemu:///system"),
   let orchestrator = try? CVMOrchestrator(configuration: .init(stateDirectory: state, imagesDirectory: images)),
   let pool = try? connection.lookupStoragePool(name: orchestrator.localPoolName ?? "") {
    try? pool.destroy()
}
try? FileManager.default.removeItem(atPath: state)
