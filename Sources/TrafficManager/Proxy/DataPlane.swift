import NIOCore
import NIOPosix
import Synchronization
import TMSCore

/// The data plane's event loops, one per core, and each core's runtime. The only way across
/// cores: `deliver` (waiters served by one core's release, admitted on another) and `publish`
/// (a new routing table).
final class DataPlane: Sendable {
    let group: MultiThreadedEventLoopGroup
    /// Index = core.
    let loops: [any EventLoop]
    let cores: [NIOLoopBoundBox<CoreRuntime?>]
    private let tickets = Atomic<UInt64>(1)

    init(cores count: Int) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: count, metricsDelegate: PollerTicks())
        loops = Array(group.makeIterator())
        cores = loops.map { NIOLoopBoundBox.makeEmptyBox(valueType: CoreRuntime.self, eventLoop: $0) }
    }

    var coreCount: Int { loops.count }

    /// Creates every core's runtime on its loop and starts its sweep. Returns, per core, why its
    /// poll set needs a notifier thread (nil: it sits in the loop's own epoll set).
    @discardableResult
    func start(accessLog: AccessLog? = nil) async throws -> [String?] {
        var notifierReasons: [String?] = []
        for (index, loop) in loops.enumerated() {
            let box = cores[index]
            let selector = await LoopSelector.descriptor(of: loop)
            let reason = try await loop.submit { [self] in
                let poller = try CorePoller(loop: loop, selector: selector)
                poller.start()
                let core = CoreRuntime(index: index, loop: loop, dataPlane: self, poller: poller)
                core.accessLog = accessLog
                box.value = core
                core.startSweeping()
                return poller.notifierReason
            }.get()
            notifierReasons.append(reason)
        }
        return notifierReasons
    }

    /// Makes `table` the one every core routes new connections with. Returns once every core
    /// has it.
    func publish(_ table: RoutingTable) async throws {
        for (index, loop) in loops.enumerated() {
            let box = cores[index]
            try await loop.submit { box.value?.table = table }.get()
        }
    }

    /// A ticket for a request that waits in a quota queue (unique in the process).
    func nextTicket() -> UInt64 { tickets.wrappingAdd(1, ordering: .relaxed).oldValue }

    /// Hands waiters that `vServer`'s quota served or expired to the cores they wait on.
    func deliver(_ update: WaiterUpdate, of vServer: VServerRuntime) {
        for served in update.served {
            let box = cores[served.waiter.core]
            loops[served.waiter.core].execute { box.value?.served(ticket: served.waiter.ticket, vServer: vServer) }
        }
        for waiter in update.expired {
            let box = cores[waiter.core]
            loops[waiter.core].execute { box.value?.expired(ticket: waiter.ticket) }
        }
    }

    /// Connections open on every core (sums each core's count on its loop).
    func openConnections() async -> Int {
        var total = 0
        for (index, loop) in loops.enumerated() {
            let box = cores[index]
            total += (try? await loop.submit { box.value?.connections.count ?? 0 }.get()) ?? 0
        }
        return total
    }

    /// From now on, each core closes whatever is still open at `deadline` (monotonic ns).
    func closeAll(at deadline: UInt64) async {
        for (index, loop) in loops.enumerated() {
            let box = cores[index]
            try? await loop.submit { box.value?.closeAllDeadline = deadline }.get()
        }
    }

    func stop() async {
        for (index, loop) in loops.enumerated() {
            let box = cores[index]
            // Dropping the core runtime also drops its routing table, which references
            // vServers that reference this data plane.
            try? await loop.submit {
                box.value?.stopSweeping()
                // Whatever is still open closes now (its raw sockets are the core's to close).
                for connection in box.value?.connections.all ?? [] { connection.close() }
                // So do the pooled service connections of `routing: request`.
                for backend in box.value?.backendPool.sweep(now: 0, all: true) ?? [] { backend.close() }
                box.value?.poller.stop()
                box.value = nil
            }.get()
        }
        try? await group.shutdownGracefully()
    }
}
