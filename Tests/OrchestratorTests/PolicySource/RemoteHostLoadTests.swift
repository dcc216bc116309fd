@testable import Libvirt
import Foundation
@testable import Orchestrator
import Testing

@Suite("RemoteHostLoad")
struct RemoteHostLoadTests {
    @Test("busy fraction between two readings; none when time stood still or counters went back")
    func fraction() {
        let earlier = HostCPUTimes(busy: 1_000, total: 10_000)
        #expect(HostCPUTimes(busy: 1_500, total: 12_000).busyFraction(since: earlier) == 0.25)
        #expect(HostCPUTimes(busy: 3_000, total: 12_000).busyFraction(since: earlier) == 1)
        #expect(HostCPUTimes(busy: 1_000, total: 10_000).busyFraction(since: earlier) == nil)
        #expect(HostCPUTimes(busy: 10, total: 500).busyFraction(since: earlier) == nil, "rebooted")
    }

    @Test("a host gets a load from its second reading; a failed reading drops it and is retried after a while")
    func bookkeeping() {
        var load = RemoteHostLoad()
        let now = Date()
        #expect(load.shouldSample("b", now: now))
        load.record("b", HostCPUTimes(busy: 0, total: 1_000))
        #expect(load.load["b"] == nil, "one reading says nothing yet")
        load.record("b", HostCPUTimes(busy: 500, total: 2_000))
        #expect(load.load["b"] == 0.5)
        load.failed("b", now: now)
        #expect(load.load["b"] == nil)
        #expect(!load.shouldSample("b", now: now.addingTimeInterval(30)))
        #expect(load.shouldSample("b", now: now.addingTimeInterval(61)))
        load.record("b", HostCPUTimes(busy: 600, total: 3_000))
        #expect(load.load["b"] == nil, "the reading before the failure is not used")
    }

    @Test("the inventory takes a remote host's measured load; the local host keeps this machine's")
    func inventory() {
        let inventory = ElasticInventory.build(
            hosts: [ElasticTestRecords.local, ElasticTestRecords.host("par-1"), ElasticTestRecords.host("par-2")], cvms: [],
            machine: LocalMachine(cpus: 2, memoryMiB: 4096, load: 0.25), remoteLoad: ["par-1": 0.8, "local": 0.9])
        #expect(inventory.host(named: "par-1")?.load == 0.8)
        #expect(inventory.host(named: "par-2")?.load == 0)
        #expect(inventory.host(named: "local")?.load == 0.25)
    }
}
