// The HTTP API's overhead (issue 14), two figures, each next to its reference in the same run:
//
// 1. Listing 1,000 CVMs: `GET /v1/cvms` on a running `cvmctl serve` (keep-alive, one client,
//    requests/s and p99), next to `cvmctl status --json` reading the same store (a process
//    per call, as an operator's script would; it also asks libvirt about every CVM, which is
//    what the CLI does). The store holds 1,000 CVM rows on the local host with no domains
//    behind them (so `status` reports them as mismatches, exit 3); the daemon runs without
//    its heartbeat monitor, which would otherwise mark them failed meanwhile.
// 2. Deploy to first heartbeat: `POST /v1/cvms` polled to its end, next to `cvmctl deploy`,
//    alternating, of the same image (goal: the API adds < 2 %): wall times, and what each
//    path adds to the orchestrator's own deploy time (wall minus its totalMs), per deploy.
// 3. The dashboard's time to first render (`/ui`, 1,000 CVMs on 100 hosts) in headless
//    Chromium, real time, next to the same tables as a static HTML file (render-time.py).
//
// Usage: api-bench [requests] [deploys]   (default 300 requests, 5 deploys each way)
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
let deploys = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5
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

/// A store with `cvms` CVM rows spread over the local host and `hosts` more (no domains behind
/// them; the extra hosts' libvirt URIs point at a closed loopback port, so asking them fails at once).
func seed(state: String, cvms: Int, hosts: Int) throws {
    let store = try Store(directory: state)
    let now = Date().timeIntervalSinceReferenceDate
    for h in 0..<hosts {
        // Made as the store reads them (the records are Codable; their initializers are internal).
        let row: [String: Any] = [
            "name": "h\(h + 1)", "uri": "qemu+ssh://root@127.0.0.1:9/system", "address": "127.0.0.1", "zone": "z\(h % 5)",
            "latitude": 0, "longitude": 0, "trust": "private", "cpus": 16, "memoryMiB": 65_536, "costPerHour": 0.1,
            "dataDir": "/var/lib/cvmctl", "hypervisors": ["qemu"], "addedAt": now,
        ]
        try store.save(JSONDecoder().decode(HostRecord.self, from: JSONSerialization.data(withJSONObject: row)))
    }
    for i in 0..<cvms {
        let host = hosts == 0 || i % (hosts + 1) == 0 ? "local" : "h\(i % (hosts + 1))"
        let row: [String: Any] = [
            "id": UUID().uuidString.lowercased(), "name": "c\(i)", "image": "cvm-base", "imageVersion": "1.0.0",
            "task": "health-monitor", "role": "single", "host": host, "domainName": "cvm-c\(i)", "state": "running",
            "secret": String(repeating: "00", count: 32), "vcpus": 1, "memoryMiB": 128, "diskMiB": 64, "intervalMs": 1000,
            "virtType": "qemu", "createdAt": now, "lastHeartbeatAt": now, "cpuPercent": 1.5, "memUsedKiB": 20_000, "connections": 3,
        ]
        try store.insert(JSONDecoder().decode(CVMRecord.self, from: JSONSerialization.data(withJSONObject: row)))
    }
}

// MARK: 1. Listing 1,000 CVMs

let listState = NSTemporaryDirectory() + "cvm-api-bench-" + UUID().uuidString.prefix(8).lowercased()
try FileManager.default.createDirectory(atPath: listState, withIntermediateDirectories: true)
try seed(state: listState, cvms: 1000, hosts: 0)
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

// MARK: 3. The dashboard's first render, 1,000 CVMs on 100 hosts

/// The same hosts and CVMs as a page that needs nothing but itself: the tables rendered in
/// its HTML, no script but the one that notes the time (after the first layout, as the
/// dashboard does).
func staticPage(hosts: [[String: Any]], cvms: [[String: Any]]) -> String {
    func cell(_ value: Any?) -> String {
        "<td>" + "\(value ?? "")".replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;") + "</td>"
    }
    var html = "<!doctype html><html><head><meta charset=utf-8><title>static</title></head><body><table>"
    for host in hosts {
        html += "<tr>" + ["name", "trust", "zone", "cvms", "allocatedVcpus", "cpus", "allocatedMemoryMiB", "memoryMiB", "loadPercent"]
            .map { cell(host[$0]) }.joined() + "</tr>"
    }
    html += "</table><table>"
    for cvm in cvms {
        html += "<tr>" + ["name", "state", "host", "task", "role", "cluster", "lastHeartbeatAgeSeconds", "cpuPercent", "memUsedKiB"]
            .map { cell(cvm[$0]) }.joined() + "</tr>"
    }
    return html + "</table><script>void document.body.offsetHeight; document.body.dataset.renderMs = String(performance.now());</script></body></html>"
}

let renders = 5
let uiState = NSTemporaryDirectory() + "cvm-api-bench-ui-" + UUID().uuidString.prefix(8).lowercased()
try FileManager.default.createDirectory(atPath: uiState, withIntermediateDirectories: true)
try seed(state: uiState, cvms: 1000, hosts: 99)
do {
    let (uiDaemon, uiPort, uiToken) = try startDaemon(state: uiState, monitor: false)
    defer { uiDaemon.terminate(); uiDaemon.waitUntilExit() }
    func list(_ path: String, _ key: String) -> [[String: Any]] {
        let (_, body) = request("http://127.0.0.1:\(uiPort)\(path)", token: uiToken)
        return (try? JSONSerialization.jsonObject(with: body) as? [String: Any])?[key] as? [[String: Any]] ?? []
    }
    let hosts = list("/v1/hosts", "hosts"), cvms = list("/v1/cvms", "cvms")
    precondition(hosts.count == 100 && cvms.count == 1000, "the store holds \(hosts.count) hosts, \(cvms.count) CVMs")
    let reference = uiState + "/static.html"
    try staticPage(hosts: hosts, cvms: cvms).write(toFile: reference, atomically: true, encoding: .utf8)
    let dashboard = "http://127.0.0.1:\(uiPort)/ui#token=\(uiToken)"
    // Alternating, in one browser; the first pair warms it up and is not counted.
    let browser = Process()
    browser.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    browser.arguments = ["python3", repoRoot + "/Benchmarks/api-bench/render-time.py", uiState + "/chromium"]
        + Array(repeating: [dashboard, "file://" + reference], count: renders + 1).flatMap { $0 }
    let out = Pipe()
    browser.standardOutput = out
    try browser.run()
    let lines = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
    browser.waitUntilExit()
    precondition(browser.terminationStatus == 0, "a page did not render: \(lines)")
    let times = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.dropFirst(2)
    let ui = times.filter { ($0["url"] as? String ?? "").hasPrefix("http") }.compactMap { $0["renderMs"] as? Double }
    let flat = times.filter { ($0["url"] as? String ?? "").hasPrefix("file") }.compactMap { $0["renderMs"] as? Double }
    print(String(format: "dashboard first render, 1000 CVMs on 100 hosts (4 API reads, tables built in the page), median of %d: %.0f ms (min %.0f, max %.0f)",
                 ui.count, percentile(ui, 0.5), ui.min() ?? 0, ui.max() ?? 0))
    print(String(format: "the same tables as static HTML (no fetch, no script), median of %d: %.0f ms (min %.0f, max %.0f)",
                 flat.count, percentile(flat, 0.5), flat.min() ?? 0, flat.max() ?? 0))
    print(String(format: "ratio (dashboard over static HTML): %.2f", percentile(ui, 0.5) / percentile(flat, 0.5)))
}
try? FileManager.default.removeItem(atPath: uiState)

// MARK: 2. Deploy to first heartbeat, API vs CLI

guard deploys > 0 else { exit(0) }
let deployState = NSTemporaryDirectory() + "cvm-api-bench-d-" + UUID().uuidString.prefix(8).lowercased()
try FileManager.default.createDirectory(atPath: deployState, withIntermediateDirectories: true)
let (deployDaemon, deployPort, deployToken) = try startDaemon(state: deployState, monitor: true)
defer { deployDaemon.terminate(); deployDaemon.waitUntilExit() }
// Each deploy's wall time as its client sees it, and the orchestrator's own figure for the
// same deploy (checks, staging, boot, first heartbeat: `totalMs`). A TCG boot varies by more
// than the paths differ, so the path's cost is the difference of the two, deploy by deploy.
var viaAPI: [Double] = [], viaCLI: [Double] = [], apiPath: [Double] = [], cliPath: [Double] = [], deploySeconds: [Double] = []
for k in 0..<deploys {
    let cliStart = Date()
    let deployed = try run(["deploy", "--image", "cvm-base", "--name", "cli\(k)", "--json"], state: deployState)
    precondition(deployed.status == 0, "CLI deploy failed")
    let cliWall = Date().timeIntervalSince(cliStart)
    let cliTotal = Double((try JSONSerialization.jsonObject(with: deployed.stdout) as? [String: Any])?["totalMs"] as? Int ?? 0) / 1000
    viaCLI.append(cliWall)
    cliPath.append(cliWall - cliTotal)
    deploySeconds.append(cliTotal)
    _ = try run(["decommission", "cli\(k)", "--grace", "0"], state: deployState)

    let apiStart = Date()
    let (status, body) = request("http://127.0.0.1:\(deployPort)/v1/cvms", method: "POST", token: deployToken,
                                 json: #"{"image": "cvm-base", "name": "api\#(k)"}"#)
    precondition(status == 202, "POST /v1/cvms answered \(status)")
    let id = (try JSONSerialization.jsonObject(with: body) as? [String: Any])?["id"] as? String ?? ""
    var operation: [String: Any] = ["state": "running"]
    while operation["state"] as? String == "running" {
        usleep(20_000)
        let (_, polled) = request("http://127.0.0.1:\(deployPort)/v1/operations/\(id)", token: deployToken)
        operation = (try JSONSerialization.jsonObject(with: polled) as? [String: Any]) ?? [:]
    }
    precondition(operation["state"] as? String == "succeeded", "API deploy ended \(operation)")
    let apiWall = Date().timeIntervalSince(apiStart)
    // "deployed NAME on HOST: first heartbeat N ms after start, M ms in all"
    let result = operation["result"] as? String ?? ""
    let apiTotal = Double(result.split(separator: ",").last?.split(separator: " ").first.flatMap { Int($0) } ?? 0) / 1000
    viaAPI.append(apiWall)
    apiPath.append(apiWall - apiTotal)
    deploySeconds.append(apiTotal)
    _ = try run(["decommission", "api\(k)", "--grace", "0"], state: deployState)
}
let cliMedian = percentile(viaCLI, 0.5), apiMedian = percentile(viaAPI, 0.5), deployMedian = percentile(deploySeconds, 0.5)
let apiCost = percentile(apiPath, 0.5), cliCost = percentile(cliPath, 0.5)
print(String(format: "deploy to first heartbeat, %d each way, alternating: wall median API %.2f s, CLI %.2f s (%+.1f%%, boot spread %.2f-%.2f s)",
             deploys, apiMedian, cliMedian, (apiMedian / cliMedian - 1) * 100, deploySeconds.min() ?? 0, deploySeconds.max() ?? 0))
print(String(format: "  what each path adds to the orchestrator's deploy (median %.2f s): API %.0f ms (%.2f%%; request, operation, polls every 20 ms), CLI %.0f ms (%.2f%%; process start, store open)",
             deployMedian, apiCost * 1000, apiCost / deployMedian * 100, cliCost * 1000, cliCost / deployMedian * 100))
try? FileManager.default.removeItem(atPath: deployState)
