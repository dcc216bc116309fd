import CVMProtocol

/// Shared fixtures for the protocol tests.
enum Fixture {
    static let id = "0f8e2a4c-1b2d-4e5f-8a9b-0c1d2e3f4a5b"
    /// 00 01 02 ... 1f
    static let secret: [UInt8] = Array(0..<32)
    static let otherSecret: [UInt8] = Array(repeating: 0x42, count: 32)

    static func heartbeat(seq: UInt64, boot: UInt64 = 0xdead_beef, id: String = Fixture.id) -> Heartbeat {
        Heartbeat(
            id: id, boot: boot, seq: seq, uptimeMs: 1500 + seq, status: .ok, task: "health-monitor",
            cpuPercent: 12.34, memUsedKiB: 20000, memTotalKiB: 94788,
            diskReadBytes: 4096, diskWriteBytes: 512, netRxBytes: 10, netTxBytes: 20,
            connections: 3, badCommands: 0, role: .servant)
    }
}

extension Array where Element == UInt8 {
    /// Bytes as text, for readable expectations.
    var text: String { String(decoding: self, as: UTF8.self) }
}
