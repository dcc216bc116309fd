#if canImport(Glibc)
import Glibc
#endif
import CTMSPoll
import NIOCore

/// Something that owns descriptors in a core's `CorePoller`: told which of its descriptors
/// became ready, on the core's loop.
protocol PollHandler: AnyObject {
    /// `events`: the epoll bits (`EPOLLIN`, `EPOLLOUT`, `EPOLLRDHUP`, `EPOLLERR`, `EPOLLHUP`).
    func ready(fd: Int32, events: UInt32)
}

/// One core's sockets below NIO: an edge-triggered epoll set whose events are handled on the
/// core's own event loop, so a polled connection is owned by the core exactly as a channel is
/// (its quota calls, counters and sweep stay single-threaded).
///
/// The loop learns of the set's events one of two ways. Normally the set sits in the epoll set
/// NIO's loop waits on (see `LoopSelector`): the loop wakes for it as for its own channels and
/// drains it after every turn (`PollerTicks`). Where that set cannot be found, a small notifier
/// thread waits for the set to have events and then asks the loop to drain it (`drain`, on the
/// loop). The notifier waits on a second epoll set holding the first with `EPOLLONESHOT`: it
/// wakes once per batch, not once per event, and the loop re-arms it after draining (events
/// that arrive meanwhile wake it again at once). Descriptors are added once, with `EPOLLIN`,
/// `EPOLLOUT` and `EPOLLRDHUP`, edge-triggered: no interest changes while relaying, and a
/// closed descriptor leaves the set by itself.
///
/// Loop-bound, except `init` and the notifier thread (which touches only its own set).
final class CorePoller {
    let loop: any EventLoop
    /// The set of sockets.
    private let epoll: Int32
    /// Nil when the set sits in the loop's own epoll set.
    private let notifier: Notifier?
    /// Handlers by descriptor, with the generation registered (a stale event for a descriptor
    /// closed and reused in the same batch is dropped).
    private var handlers: [Registration?] = []
    private var generation: UInt32 = 0
    /// Set by `stop`: a drain the notifier asked for before it stopped does nothing.
    private var stopped = false
    private let events: UnsafeMutablePointer<epoll_event>
    private static let batch: Int32 = 256
    /// One read buffer for the core: a relay reads into it and writes on at once, keeping a
    /// copy only of what its peer could not take.
    let scratch: UnsafeMutableRawBufferPointer

    private struct Registration {
        let generation: UInt32
        let handler: any PollHandler
    }

    /// How the loop learns of events: `nil` when the set sits in the loop's epoll set, else why
    /// not (the notifier thread is used).
    let notifierReason: String?

    /// `selector`: the epoll descriptor the loop waits on (`LoopSelector.descriptor(of:)`), or
    /// why it is not known.
    init(loop: any EventLoop, selector: Result<Int32, PollError>) throws(PollError) {
        self.loop = loop
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw PollError(call: "epoll_create1", errno: errno) }
        var reason: String?
        switch selector {
        case .success(let selector):
            // Level-triggered: the loop is woken again for as long as the set has events. Both
            // halves of the data hold the set's own descriptor, which NIO has not registered
            // (whichever half it reads as a descriptor, it passes over the event).
            var event = epoll_event()
            event.events = EPOLLIN.rawValue
            event.data.u64 = UInt64(UInt32(bitPattern: epoll)) << 32 | UInt64(UInt32(bitPattern: epoll))
            if epoll_ctl(selector, EPOLL_CTL_ADD, epoll, &event) != 0 {
                reason = "\(PollError(call: "epoll_ctl on the loop's epoll set", errno: errno))"
            }
        case .failure(let error):
            reason = "\(error)"
        }
        notifierReason = reason
        if reason == nil {
            notifier = nil
        } else {
            do {
                notifier = try Notifier(watching: epoll)
            } catch {
                Glibc.close(epoll)
                throw error
            }
        }
        events = .allocate(capacity: Int(Self.batch))
        scratch = .allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit {
        events.deallocate()
        scratch.deallocate()
    }

    /// Starts the draining: after every turn of the loop, or by the notifier (call on the loop).
    func start() {
        guard let notifier else {
            PollerTicks.attach(self)
            return
        }
        let bound = NIOLoopBound(self, eventLoop: loop)
        notifier.start(loop: loop) { bound.value.drain() }
    }

    /// Stops the notifier and closes the set (descriptors still registered are not closed:
    /// their owners close them).
    func stop() {
        guard !stopped else { return }
        stopped = true
        if let notifier { notifier.stop() } else { PollerTicks.detach() }
        handlers.removeAll()
        Glibc.close(epoll)
    }

    /// Adds `fd` to the set for `handler` (edge-triggered reads, writes and peer shutdown).
    func register(_ fd: Int32, _ handler: any PollHandler) throws(PollError) {
        generation &+= 1
        let index = Int(fd)
        if index >= handlers.count { handlers.append(contentsOf: repeatElement(nil, count: index + 1 - handlers.count + 64)) }
        handlers[index] = Registration(generation: generation, handler: handler)
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue
        event.data.u64 = UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0 else {
            handlers[index] = nil
            throw PollError(call: "epoll_ctl", errno: errno)
        }
    }

    /// Forgets `fd` (call before closing it; closing removes it from the set).
    func unregister(_ fd: Int32) {
        let index = Int(fd)
        if index < handlers.count { handlers[index] = nil }
    }

    /// Whether `fd` is registered for `handler` (a deferred job checks that its socket is
    /// still its own: a closed descriptor's number may be reused).
    func isRegistered(_ fd: Int32, for handler: any PollHandler) -> Bool {
        let index = Int(fd)
        return index < handlers.count && handlers[index]?.handler === handler
    }

    /// Handles what the set has ready, more rounds while it keeps having more (under load the
    /// next events arrive while a round is handled: taking them here saves the notifier's
    /// wake-up and two context switches per round), then re-arms the notifier.
    func drain() {
        guard !stopped else { return }
        for _ in 0..<16 {
            let count = epoll_wait(epoll, events, Self.batch, 0)
            guard count > 0 else { break }
            for i in 0..<Int(count) {
                let event = events[i]
                let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: event.data.u64))
                let index = Int(fd)
                guard index < handlers.count, let registration = handlers[index],
                      registration.generation == UInt32(truncatingIfNeeded: event.data.u64 >> 32) else { continue }
                registration.handler.ready(fd: fd, events: event.events)
            }
        }
        notifier?.rearm()
    }
}

/// A failed system call of the polled path.
struct PollError: Error, CustomStringConvertible {
    let call: String
    let errno: Int32

    var description: String { errno == 0 ? call : "\(call): \(String(cString: strerror(errno)))" }
}

/// The thread that wakes a core's loop when its poll set has events (see `CorePoller`).
private final class Notifier: @unchecked Sendable {
    /// Its own set: the poll set (one-shot) and the stop descriptor.
    private let epoll: Int32
    private let watched: Int32
    private let stopFD: Int32
    private var thread: pthread_t?
    private static let stopToken: UInt64 = .max

    init(watching watched: Int32) throws(PollError) {
        self.watched = watched
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw PollError(call: "epoll_create1", errno: errno) }
        stopFD = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard stopFD >= 0 else {
            let error = errno
            Glibc.close(epoll)
            throw PollError(call: "eventfd", errno: error)
        }
        var stop = epoll_event()
        stop.events = EPOLLIN.rawValue
        stop.data.u64 = Self.stopToken
        var set = epoll_event()
        set.events = EPOLLIN.rawValue | EPOLLONESHOT.rawValue
        set.data.u64 = 0
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, stopFD, &stop) == 0, epoll_ctl(epoll, EPOLL_CTL_ADD, watched, &set) == 0 else {
            let error = errno
            Glibc.close(stopFD)
            Glibc.close(epoll)
            throw PollError(call: "epoll_ctl", errno: error)
        }
    }

    func start(loop: any EventLoop, drain: @escaping @Sendable () -> Void) {
        let epoll = epoll
        let body = ThreadBody {
            var event = epoll_event()
            while true {
                let count = epoll_wait(epoll, &event, 1, -1)
                if count < 0 && errno == EINTR { continue }
                guard count == 1, event.data.u64 != Self.stopToken else { return }
                loop.execute(drain)
            }
        }
        var thread = pthread_t()
        let argument = Unmanaged.passRetained(body).toOpaque()
        let result = pthread_create(&thread, nil, { argument in
            let body = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
            body.run()
            return nil
        }, argument)
        precondition(result == 0, "pthread_create: \(result)")
        self.thread = thread
    }

    /// Lets the notifier wait for the next batch (after the loop drained the set).
    func rearm() {
        var set = epoll_event()
        set.events = EPOLLIN.rawValue | EPOLLONESHOT.rawValue
        set.data.u64 = 0
        _ = epoll_ctl(epoll, EPOLL_CTL_MOD, watched, &set)
    }

    func stop() {
        var one: UInt64 = 1
        _ = write(stopFD, &one, 8)
        if let thread { pthread_join(thread, nil) }
        thread = nil
        Glibc.close(stopFD)
        Glibc.close(epoll)
    }
}

private final class ThreadBody: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
