import CVMProtocol
import Testing

@Suite struct ProcUsageTests {
    @Test func cpuTimesSumTheFirstEightColumnsAndIdleIncludesIOWait() throws {
        let stat = """
            cpu  100 5 50 800 20 3 2 1 9 9
            cpu0 100 5 50 800 20 3 2 1 9 9
            intr 12345
            """
        let times = try #require(ProcUsage.cpuTimes(stat: stat))
        #expect(times == ProcUsage.CPUTimes(total: 981, idle: 820))
        #expect(ProcUsage.cpuTimes(stat: "intr 1\n") == nil)
    }

    @Test func busyPercentIsTheNonIdleShareOfElapsedTime() {
        let before = ProcUsage.CPUTimes(total: 1000, idle: 900)
        #expect(ProcUsage.CPUTimes(total: 1200, idle: 1050).busyPercent(since: before) == 25)
        #expect(ProcUsage.CPUTimes(total: 1000, idle: 900).busyPercent(since: before) == 0)
        #expect(ProcUsage.CPUTimes(total: 1100, idle: 1100).busyPercent(since: before) == 0)
    }

    @Test func memoryUsedIsTotalMinusAvailable() throws {
        let meminfo = """
            MemTotal:          94788 kB
            MemFree:           70000 kB
            MemAvailable:      66852 kB
            Buffers:               0 kB
            """
        let memory = try #require(ProcUsage.memory(meminfo: meminfo))
        #expect(memory.totalKiB == 94788 && memory.usedKiB == 27936)
        #expect(ProcUsage.memory(meminfo: "MemFree: 1 kB") == nil)
    }

    @Test func diskCountsSectorsOfTheNamedDevice() {
        let diskstats = """
             254       0 vda 24 0 8 10 3 1 40 2 0 20 12 0 0 0 0 0 0
             254       1 vda1 1 0 2 0 0 0 0 0 0 0 0 0 0 0 0 0 0
            """
        let vda = ProcUsage.disk(diskstats: diskstats, device: "vda")
        #expect(vda.readBytes == 8 * 512 && vda.writeBytes == 40 * 512)
        let none = ProcUsage.disk(diskstats: diskstats, device: "vdb")
        #expect(none.readBytes == 0 && none.writeBytes == 0)
    }

    @Test func networkSumsAllInterfacesButLoopback() {
        let netDev = """
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
                lo:    9999      10    0    0    0     0          0         0     9999      10    0    0    0     0       0          0
              eth0:1000 5 0 0 0 0 0 0 2000 6 0 0 0 0 0 0
              eth1:   10       1    0    0    0     0          0         0       20       2    0    0    0     0       0          0
            """
        let net = ProcUsage.network(netDev: netDev)
        #expect(net.rxBytes == 1010 && net.txBytes == 2020)
    }

    @Test func countsOnlyEstablishedSockets() {
        let tcp = """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
               1: 0100007F:0016 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1
               2: 0100007F:9C40 0100007F:0016 01 00000000:00000000 00:00000000 00000000     0        0 3 1
               3: 0100007F:9C42 0100007F:0016 06 00000000:00000000 00:00000000 00000000     0        0 0 1
            """
        #expect(ProcUsage.establishedConnections(tcp: tcp) == 2)
        #expect(ProcUsage.establishedConnections(tcp: "") == 0)
    }
}
