import CTMSPoll
import Glibc
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import TrafficManager

/// How a core's poll set wakes its loop: inside the loop's own epoll set (found through
/// /proc/self/fdinfo), or through the notifier thread where that set cannot be found.
@Suite struct LoopSelectorTests {
    @Test func fdinfoLinesGiveTheWatchedDescriptors() {
        let text = """
            pos:\t0
            flags:\t02000002
            mnt_id:\t15
            ino:\t1057
            tfd:        7 events:       19 data:                7  pos:0 ino:3f8 sdev:e
            tfd:       12 events: 80002019 data: 0000000c0000000c  pos:0 ino:4b2 sdev:8
            tfd: 99999999999 events: 19 data: 0
            tfd:
            tfdx: 5
            """
        #expect(LoopSelector.parseWatched(Array(text.utf8)) == [7, 12])
        #expect(LoopSelector.parseWatched([]) == [])
        #expect(LoopSelector.parseWatched(Array(repeating: UInt8(ascii: "9"), count: 10_000)) == [])
    }

    @Test func theEpollSetHoldingADescriptorIsFoundOnlyWhenItIsTheOnlyOne() throws {
        var ends: [Int32] = [-1, -1]
        try #require(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        #expect(LoopSelector.epollSet(watching: ends[0]) == nil, "no set holds it yet")
        let first = epoll_create1(0), second = epoll_create1(0)
        defer { close(first); close(second) }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        try #require(epoll_ctl(first, EPOLL_CTL_ADD, ends[0], &event) == 0)
        #expect(LoopSelector.epollSet(watching: ends[0]) == first)
        #expect(LoopSelector.watched(by: first) == [ends[0]])
        try #require(epoll_ctl(second, EPOLL_CTL_ADD, ends[0], &event) == 0)
        #expect(LoopSelector.epollSet(watching: ends[0]) == nil, "two sets: which loop's is unknown")
    }

    @Test func eachLoopOfADataPlaneHasItsOwnSelectorAndNoNotifier() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        let first = try await LoopSelector.descriptor(of: loops[0]).get()
        let second = try await LoopSelector.descriptor(of: loops[1]).get()
        #expect(first != second)
        try await group.shutdownGracefully()

        let plane = DataPlane(cores: 2)
        let reasons = try await plane.start()
        #expect(reasons == [nil, nil], "a core fell back to its notifier thread: \(reasons)")
        await plane.stop()
    }

    /// Events on a socket in a poller reach its handler on the loop, at start and again after
    /// the loop has gone idle, whichever way the loop is woken.
    @Test(arguments: [true, false])
    func aPolledSocketsEventsReachItsHandlerOnTheLoop(nested: Bool) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1, metricsDelegate: PollerTicks())
        let loop = group.next()
        let selector: Result<Int32, PollError> = nested
            ? await LoopSelector.descriptor(of: loop)
            : .failure(PollError(call: "test: no selector", errno: ENOENT))
        var pair: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        let handler = Reader(loop: loop)
        let poller = try await loop.submit {
            let poller = try CorePoller(loop: loop, selector: selector)
            poller.start()
            try poller.register(pair[0], handler)
            return NIOLoopBound(poller, eventLoop: loop)
        }.get()
        #expect(try await loop.submit { poller.value.notifierReason == nil }.get() == nested)

        for round in 1...3 {
            var byte = UInt8(round)
            #expect(write(pair[1], &byte, 1) == 1)
            #expect(await eventually { handler.received.withLock { $0 } == Array(1...UInt8(round)) }, "round \(round): \(handler.received.withLock { $0 })")
            try await Task.sleep(for: .milliseconds(50))  // the loop goes idle between rounds
        }
        try await loop.submit { poller.value.stop() }.get()
        try await group.shutdownGracefully()
    }

    final class Reader: PollHandler, Sendable {
        let loop: any EventLoop
        let received = Mutex<[UInt8]>([])

        init(loop: any EventLoop) { self.loop = loop }

        func ready(fd: Int32, events: UInt32) {
            loop.preconditionInEventLoop()
            var buffer = [UInt8](repeating: 0, count: 64)
            while true {
                let count = read(fd, &buffer, buffer.count)
                guard count > 0 else { return }
                received.withLock { $0 += buffer[..<count] }
            }
        }
    }
}
