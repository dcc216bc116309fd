import Foundation
import Testing
import TMSCore
import TrafficManager

/// Starts a traffic manager from YAML text for one test, runs `body`, then checks that every
/// vServer's quota returned to zero and was released exactly as often as admitted (unless
/// `quotaReturnsToZero` is false: a test whose pooled service connections rightly hold a use
/// of another vServer's quota checks what it needs itself), and shuts the traffic manager down
/// whatever happened.
func withTrafficManager<T>(
    _ yaml: String, cores: Int = 2, quotaReturnsToZero: Bool = true, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: (TrafficManager) async throws -> T
) async throws -> T {
    let config = try TMSConfig.parse(yaml, file: "test.yaml")
    let manager = TrafficManager(config: config, cores: cores)
    try await manager.start()
    do {
        let result = try await body(manager)
        if quotaReturnsToZero { await expectQuotaReturnsToZero(manager, sourceLocation: sourceLocation) }
        await manager.shutdown()
        return result
    } catch {
        await manager.shutdown()
        throw error
    }
}

/// Waits (up to 5 s) until no vServer holds quota and each released what it admitted, then
/// expects: in-use 0 everywhere, the shared pools' ledgers balance, and each quota released
/// exactly what it admitted. (Both are waited for: a connection still arriving, such as a
/// monitor's probe sent before a reload stopped the monitor, is admitted between the two
/// reads and released a moment later.)
func expectQuotaReturnsToZero(_ manager: TrafficManager, sourceLocation: SourceLocation = #_sourceLocation) async {
    let vServers = Array(manager.table?.vServers.values ?? [:].values)
    let deadline = ContinuousClock.now + .seconds(5)
    func settled(_ vServer: VServerRuntime) -> Bool {
        let counters = vServer.quota.totalCounters
        return vServer.quota.totalInUse == 0 && counters.admitted == counters.released
    }
    while ContinuousClock.now < deadline, !vServers.allSatisfy(settled) {
        try? await Task.sleep(for: .milliseconds(10))
    }
    for vServer in vServers {
        let state = vServer.quota.inspect()
        let counters = vServer.quota.totalCounters
        #expect(state.totalInUse == 0, "vServer \(vServer.config.name) still holds \(state.totalInUse)", sourceLocation: sourceLocation)
        #expect(state.ledgerBalances, "vServer \(vServer.config.name): shared pool ledger off", sourceLocation: sourceLocation)
        #expect(counters.admitted == counters.released,
                "vServer \(vServer.config.name): admitted \(counters.admitted), released \(counters.released)",
                sourceLocation: sourceLocation)
    }
}

/// Polls `condition` every 5 ms until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}

/// Deterministic pseudo-random bytes (xorshift), so payloads differ per connection.
func payload(seed: UInt64, count: Int) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}

/// FNV-1a, the checksum the payload tests compare.
func checksum(_ bytes: [UInt8]) -> UInt64 {
    bytes.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
}

/// A path for an admin token file that does not exist yet (the traffic manager creates it),
/// in a directory of its own under the temporary directory.
func freshTokenFile() -> String {
    FileManager.default.temporaryDirectory
        .appendingPathComponent("tms-token-\(UUID().uuidString)").appendingPathComponent("admin.token").path
}

/// The admin token a running traffic manager wrote to `file`.
func adminToken(_ file: String) throws -> String {
    try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// One seeded mutation of `bytes` (a fuzz step): a byte replaced from `alphabet`, one inserted,
/// one removed, or a byte replaced by any value.
func mutate(_ bytes: inout [UInt8], alphabet: [UInt8], random: inout SplitMix) {
    let at = Int(random.next() % UInt64(bytes.count))
    switch random.next() % 4 {
    case 0: bytes[at] = alphabet[Int(random.next() % UInt64(alphabet.count))]
    case 1: bytes.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: at)
    case 2: if bytes.count > 1 { bytes.remove(at: at) }
    default: bytes[at] = UInt8(truncatingIfNeeded: random.next())
    }
}

/// A port on 127.0.0.1 that was free a moment ago (bound to port 0, read back, released).
func freeLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}
