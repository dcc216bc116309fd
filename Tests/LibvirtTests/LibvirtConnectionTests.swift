import Foundation
@testable import Libvirt
import Testing

/// The wrapper against libvirt's built-in test driver (no daemon, no QEMU).
@Suite struct LibvirtConnectionTests {
    static func testDomain(_ name: String) -> DomainDefinition {
        DomainDefinition(type: "test", name: name, memoryKiB: 65536, vcpus: 1, os: .init(), devices: .init(memballoon: nil))
    }

    @Test func opensTheTestDriverAndReportsVersions() throws {
        let c = try LibvirtConnection(uri: "test:///default")
        #expect(c.isAlive)
        #expect(try c.hostname.isEmpty == false)
        #expect(try c.daemonVersion.split(separator: ".").count == 3)
        #expect(try c.nodeInfo().cpus > 0)
    }

    @Test func domainLifecycleThroughTheWrapper() throws {
        let c = try LibvirtConnection(uri: "test:///default")
        let name = "wrap-\(UUID().uuidString.prefix(6))"
        let d = try c.defineDomain(xml: Self.testDomain(name).xml)
        #expect(try d.state().kind == .shutoff)
        try d.start()
        #expect(try d.state().isRunning)
        #expect(try c.lookupDomain(name: name)?.uuid == d.uuid)
        #expect(try c.lookupDomain(uuid: d.uuid)?.name == name)
        try d.destroy()
        try d.destroy() // already stopped: tolerated
        try d.undefine()
        #expect(try c.lookupDomain(name: name) == nil)
    }

    @Test func errorsCarryLibvirtsCodeAndOperation() throws {
        let c = try LibvirtConnection(uri: "test:///default")
        do {
            _ = try c.defineDomain(xml: "<domain type='test'><name>x</name>")
            Issue.record("malformed XML was accepted")
        } catch let error as LibvirtError {
            #expect(error.code == .xmlDetail || error.code == .xmlError)
            #expect(error.operation == "virDomainDefineXML")
            #expect(!error.message.isEmpty)
        }
        let d = try c.defineDomain(xml: Self.testDomain("err-\(UUID().uuidString.prefix(6))").xml)
        defer { try? d.undefine() }
        // A failure whose message names the domain: the name must not wipe the error.
        do {
            try d.openChannel(alias: "ua-none", into: LibvirtStream(connection: c, nonBlocking: true))
            Issue.record("opened a channel of a stopped domain")
        } catch let error as LibvirtError {
            #expect(error.code != .unknown)
            #expect(error.operation.contains(d.name))
        }
    }

    @Test func unreachableDaemonIsAnError() {
        #expect(throws: LibvirtError.self) {
            _ = try LibvirtConnection(uri: "qemu:///system?socket=/nonexistent/libvirt-sock")
        }
    }

    @Test func lifecycleEventsArriveOnTheEventThread() async throws {
        let c = try LibvirtConnection(uri: "test:///default")
        let (events, continuation) = AsyncStream.makeStream(of: LifecycleEvent.self)
        let registration = try c.onLifecycleEvents { continuation.yield($0) }
        let name = "evt-\(UUID().uuidString.prefix(6))"
        let d = try c.defineDomain(xml: Self.testDomain(name).xml)
        try d.start()
        try d.destroy()
        try d.undefine()
        var kinds: [LifecycleEvent.Kind] = []
        for await e in events where e.domainName == name {
            kinds.append(e.kind)
            if kinds.count == 4 { break }
        }
        #expect(kinds == [.defined, .started, .stopped, .undefined])
        _ = registration
    }

    @Test func storagePoolsAndVolumes() throws {
        let c = try LibvirtConnection(uri: "test:///default")
        let name = "pool-\(UUID().uuidString.prefix(6))"
        let pool = try c.createTransientStoragePool(xml: StoragePoolDefinition(name: name, path: "/tmp/\(name)").xml)
        defer { try? pool.destroy() }
        let v = try pool.createVolume(xml: StorageVolumeDefinition(name: "v1", capacityBytes: 1 << 20, format: "raw").xml)
        #expect(try pool.volumeNames().contains("v1"))
        try v.delete()
        #expect(try pool.lookupVolume(name: "v1") == nil)
    }
}
