// The HTTP API's overhead (issue 14), two figures, each next to its reference in the same run:
//
// 1. Listing 1,000 CVMs: `GET /v1/cvms` on a running `cvmctl serve` (keep-alive, one client,
//    requests/s and p99), next to `cvmctl status --json` reading the same store (a process
//    per call, as an operator's script would; it also asks libvirt about every CVM, which is
//    what the CLI does). The store holds 1,000 CVM rows on the local host with no domains
//    behind them (so `status` reports them as mismatches, exit 3); the daemon runs without
//    its heartbeat monitor, which would otherwise mark them failed meanwhile.
// 2. Deploy to first heartbeat: `POST /v1/cvms` polled to its end, next to `cvmctl deploy`,
//    alternating, of the same image (goal: the API adds < 2 %).
//
// Usage: api-bench [requests] [deploys]   (default 300 requests, 3 deploys each way)
//   swift build -c release --product cvmctl --product api-bench
//   CVMCTL_BIN=.build/release/cvmctl .build/release/api-bench
// Needs a running libvirtd and a built cvm-base image, like deploy-bench.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import CVMProtocol
import Orchestrator

let arguments = CommandLine.arguments
let requests = arguments.count > 1 ? Int(arguments[1]) ?? 300 : 300
let deploys = arguments.count > 2 ? Int(arguments[2]) ?? 3 : 3
let repoRoot = FileManager.default.currentDirectoryPath
let cvmctl = ProcessInfo.processInfo.environment["CVMCTL_BIN"] ?? repoRoot + "/.build/release/cvmctl"
let images = repoRoot + "/images"

func run(_ args: [String], state: String) throws -> (status: Int32, stdout: Data) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: cvmctl)
    p.arguments = args + ["--state", state, "--images", images, "--virt-type", "qemu", "-q"]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, data)
}

func freePort() -> Int { Int.random(in: 20_000...29_999) }

/// One HTTP request (URLSession, keep-alive); status and body.
func request(_ url: String, method: String = "GET", token: String, json: String? = nil) -> (Int, Data) {
    var request = URLRequest(url: URL(string: url)!, timeoutInterval: 30)
    request.httpMethod = method
    request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
    if let json {
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(json.utf8)
    }
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result = (0, Data())
    URLSession.shared.dataTask(with: request) { data, response, _ in
        result = ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data())
        done.signal()
    }.resume()
    done.wait()
    return result
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

func processCPU() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// `cvmctl serve` on `state`; its port and an admin token. Stopped by the caller.
func startDaemon(state: String, monitor: Bool) throws -> (Process, Int, String) {
    let made = try run(["token", "create", "--name", "bench", "--scope", "admin", "--json"], state: state)
    let token = (try JSONSerialization.jsonObject(with: made.stdout) as? [String: String])?["token"] ?? ""
    let port = freePort()
    let daemon = Process()
    daemon.executableURL = URL(fileURLWithPath: cvmctl)
    daemon.arguments = ["serve", "--listen", "127.0.0.1:\(port)", "--state", state, "--images", images, "-q"]
        + (monitor ? [] : ["--without-monitor"])
    daemon.standardOutput = FileHandle.nullDevice
    daemon.standardError = FileHandle.nullDevice
    try daemon.run()
    for _ in 0..<100 where request("http://127.0.0.1:\(port)/health", token: token).0 != 200 { usleep(100_000) }
    return (daemon, port, token)
}

// MARK: 1. Listing 1,000 CVMs

let listState = NSTemporaryDirectory() + "cvm-api-bench-" + UUID().uuidString.prefix(8).lowercased()
try FileManager.default.createDirectory(atPath: listState, withIntermediateDirectories: true)
do {
    let store = try Store(directory: listState)
    for i in 0..<1000 {
        // Made as the store reads them (CVMRecord is Codable; its initializer is internal).
        let now = Date().timeIntervalSinceReferenceDate
        let row: [String: Any] = [
            "id": UUID().uuidString.lowercased(), "name": "c\(i)", "image": "cvm-base", "imageVersion": "1.0.0",
            "task": "health-monitor", "role": "single", "host": "local", "domainName": "cvm-c\(i)", "state": "running",
            "secret": String(repeating: "00", count: 32), "vcpus": 1, "memoryMiB": 128, "diskMiB": 64, "intervalMs": 1000,
            "virtType": "qemu", "createdAt": now, "lastHeartbeatAt": now, "cpuPercent": 1.5, "memUsedKiB": 20_000, "connections": 3,
        ]
        try store.insert(JSONDecoder().decode(CVMRecord.self, from: JSONSerialization.data(withJSONObject: row)))
    }
}
let (daemon, port, token) = try startDaemon(state: listState, monitor: false)
var latencies: [Double] = []
let cpuBefore = processCPU()
let began = Date()
var bytes = 0
for _ in 0..<requests {
    let start = Date()
    let (status, body) = request("http://127.0.0.1:\(port)/v1/cvms", token: token)
    latencies.append(Date().timeIntervalSince(start))
    precondition(status == 200, "GET /v1/cvms answered \(status)")
    bytes = body.count
}
let apiSeconds = Date().timeIntervalSince(began)
let clientCPU = (processCPU() - cpuBefore) / apiSeconds * 100
daemon.terminate()
daemon.waitUntilExit()
var statusTimes: [Double] = []
for _ in 0..<5 {
    let start = Date()
    let out = try run(["status", "--json"], state: listState)
    statusTimes.append(Date().timeIntervalSince(start))
    precondition(out.status == 0 || out.status == 3, "status exited \(out.status)")
}
let apiRate = Double(requests) / apiSeconds
let statusRate = 1 / (statusTimes.reduce(0, +) / Double(statusTimes.count))
print(String(format: "GET /v1/cvms, 1000 rows (%d KB): %.0f requests/s, p50 %.1f ms, p99 %.1f ms (client CPU %.0f%% of a core)",
             bytes / 1024, apiRate, percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000, clientCPU))
print(String(format: "cvmctl status --json, same store: %.2f calls/s, p50 %.0f ms, max %.0f ms", statusRate,
             percentile(statusTimes, 0.5) * 1000, (statusTimes.max() ?? 0) * 1000))
print(String(format: "ratio (API requests/s over status calls/s): %.0f", apiRate / statusRate))
try? FileManager.default.removeItem(atPath: listState)

// MARK: 2. Deploy to first heartbeat, API vs CLI

guard deploys > 0 else { exit(0) }
let deployState = NSTemporaryDirectory() + "cvm-api-bench-d-" + UUID().uuidString.prefix(8).lowercased()
try FileManager.default.createDirectory(atPath: deployState, withIntermediateDirectories: true)
let (deployDaemon, deployPort, deployToken) = try startDaemon(state: deployState, monitor: true)
defer { deployDaemon.terminate(); deployDaemon.waitUntilExit() }
var viaAPI: [Double] = [], viaCLI: [Double] = []
for k in 0..<deploys {
    let cliStart = Date()
    let deployed = try run(["deploy", "--image", "cvm-base", "--name", "cli\(k)"], state: deployState)
    precondition(deployed.status == 0, "CLI deploy failed")
    viaCLI.append(Date().timeIntervalSince(cliStart))
    _ = try run(["decommission", "cli\(k)", "--grace", "0"], state: deployState)

    let apiStart = Date()
    let (status, body) = request("http://127.0.0.1:\(deployPort)/v1/cvms", method: "POST", token: deployToken,
                                 json: #"{"image": "cvm-base", "name": "api\#(k)"}"#)
    precondition(status == 202, "POST /v1/cvms answered \(status)")
    let id = (try JSONSerialization.jsonObject(with: body) as? [String: Any])?["id"] as? String ?? ""
    var state = "running"
    while state == "running" {
        usleep(20_000)
        let (_, polled) = request("http://127.0.0.1:\(deployPort)/v1/operations/\(id)", token: deployToken)
        state = (try JSONSerialization.jsonObject(with: polled) as? [String: Any])?["state"] as? String ?? "?"
    }
    precondition(state == "succeeded", "API deploy ended \(state)")
    viaAPI.append(Date().timeIntervalSince(apiStart))
    _ = try run(["decommission", "api\(k)", "--grace", "0"], state: deployState)
}
let cliMedian = percentile(viaCLI, 0.5), apiMedian = percentile(viaAPI, 0.5)
print(String(format: "deploy to first heartbeat, median of %d: API %.2f s, CLI %.2f s (API adds %+.1f%%; CLI includes its process start)",
             deploys, apiMedian, cliMedian, (apiMedian / cliMedian - 1) * 100))
try? FileManager.default.removeItem(atPath: deployState)
