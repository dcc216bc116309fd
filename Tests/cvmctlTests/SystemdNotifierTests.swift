import Foundation
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing
@testable import cvmctl

/// A unix datagram socket standing in for systemd's notification socket.
final class NotifySocket: Sendable {
    let path: String
    private let fd: Int32

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UInt32.random(in: 0...UInt32.max)).sock").path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The datagrams received within `seconds`, or the first `count` of them, without blocking
    /// a thread of the cooperative pool (the notifier under test runs on it too).
    func receive(for seconds: Double, atLeast count: Int = Int.max) async -> [String] {
        var messages: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline, messages.count < count {
            let received = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if received > 0 {
                messages.append(String(decoding: buffer[..<received], as: UTF8.self))
            } else {
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        return messages
    }

    /// The datagrams received within `seconds` (or until `until` holds for what came).
    func receive(for seconds: Double, until: ([String]) -> Bool = { _ in false }) -> [String] {
        var messages: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline, !until(messages) {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count > 0 { messages.append(String(decoding: buffer[..<count], as: UTF8.self)) }
        }
        return messages
    }
}

@Suite struct SystemdNotifierTests {
    @Test("READY once ready, WATCHDOG every half interval while healthy, STOPPING at the shutdown; nothing without NOTIFY_SOCKET")
    func protocolMessages() async throws {
        let socket = try NotifySocket()
        let ready = Atomic(false), healthy = Atomic(true)
        let logger = Logger(label: "test")
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "200000"], logger: logger,
                                       status: { "serving" }, isReady: { ready.load(ordering: .relaxed) },
                                       isHealthy: { healthy.load(ordering: .relaxed) })
        #expect(notifier.watchdogInterval == .milliseconds(200))
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"], logger: logger, isReady: { true }).watchdogInterval == nil,
                "a watchdog meant for another process is not ours")
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await notifier.run() }
                #expect(await socket.receive(for: 0.4).isEmpty, "nothing before ready")
                ready.store(true, ordering: .relaxed)
                // Timing is loose: the suite runs beside others on a busy machine.
                let first = await socket.receive(for: 10, atLeast: 4)
                #expect(first.first == "READY=1\nSTATUS=serving\nMAINPID=\(getpid())")
                #expect(first.dropFirst().allSatisfy { $0 == "WATCHDOG=1" } && first.count == 4, "\(first)")
                healthy.store(false, ordering: .relaxed)
                _ = await socket.receive(for: 0.3)
                #expect(await socket.receive(for: 0.6).isEmpty, "no ping while unhealthy")
                trigger.triggerGracefulShutdown()
                try await group.next()
                #expect(await socket.receive(for: 5, atLeast: 1) == ["STOPPING=1\nSTATUS=stopping"])
            }
        }
        // Not under systemd: returns at once, sends nothing.
        try await SystemdNotifier(environment: [:], logger: logger, isReady: { true }).run()
    }

    @Test("cvmctl serve under a notification socket: READY when /health answers, watchdog pings, STOPPING on SIGTERM, exit 0")
    func serveNotifies() throws {
        let socket = try NotifySocket()
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("notify-state-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let port = 20_000 + Int(getpid() % 20_000)
        let serve = Process()
        serve.executableURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/cvmctl").standardized
        serve.arguments = ["serve", "--state", state, "--listen", "127.0.0.1:\(port)", "--without-monitor", "--quiet"]
        serve.environment = ProcessInfo.processInfo.environment.merging(["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000"]) { _, new in new }
        try serve.run()
        defer { if serve.isRunning { serve.interrupt() } }
        let ready = socket.receive(for: 20) { $0.contains { $0.hasPrefix("READY=1") } }
        #expect(ready.last?.hasPrefix("READY=1\nSTATUS=API on 127.0.0.1:\(port)") == true, "\(ready)")
        // Ready means listening: a connection is accepted at once.
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: in_port_t(UInt16(port).bigEndian),
                                  sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        #expect(socket.receive(for: 1).filter { $0 == "WATCHDOG=1" }.count >= 3)
        serve.terminate()
        let stopping = socket.receive(for: 10) { $0.contains { $0.hasPrefix("STOPPING=1") } }
        #expect(stopping.contains("STOPPING=1\nSTATUS=stopping"), "\(stopping)")
        serve.waitUntilExit()
        #expect(serve.terminationStatus == 0)
    }
}
