import CLibvirt
import Foundation

/// A libvirt stream (`virStreamPtr`): channel I/O, volume upload.
///
/// Thread-safety: libvirt serialises calls on one stream internally; our own mutable
/// state (the finished flag and the callback registration) is guarded by `lock`.
public final class LibvirtStream: @unchecked Sendable {
    let raw: virStreamPtr
    public let connection: LibvirtConnection
    private let lock = NSLock()
    private var finished = false
    private var hasCallback = false

    public init(connection: LibvirtConnection, nonBlocking: Bool) throws {
        let flags = nonBlocking ? UInt32(VIR_STREAM_NONBLOCK.rawValue) : 0
        var err = virError()
        guard let s = cvm_virStreamNew(connection.raw, flags, &err) else {
            throw LibvirtError(capturing: &err, operation: "virStreamNew")
        }
        self.raw = s
        self.connection = connection
    }

    deinit {
        if hasCallback { _ = virStreamEventRemoveCallback(raw) }
        if !finished { _ = virStreamAbort(raw) }
        virStreamFree(raw)
    }

    /// What one non-blocking receive produced.
    public enum Received: Sendable, Equatable {
        case bytes([UInt8])
        case wouldBlock
        case endOfStream
    }

    public func receive(maxBytes: Int = 4096) throws -> Received {
        var buffer = [UInt8](repeating: 0, count: maxBytes)
        var err = virError()
        let n = buffer.withUnsafeMutableBytes { p in
            cvm_virStreamRecv(raw, p.baseAddress!.assumingMemoryBound(to: CChar.self), maxBytes, &err)
        }
        switch n {
        case -2: return .wouldBlock
        case 0: return .endOfStream
        case ..<0: throw LibvirtError(capturing: &err, operation: "virStreamRecv")
        default: return .bytes(Array(buffer[0..<Int(n)]))
        }
    }

    /// Sends everything, waiting (blocking streams) or retrying briefly (non-blocking ones).
    public func sendAll(_ bytes: [UInt8]) throws {
        var offset = 0
        var retries = 0
        var err = virError()
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { p in
                cvm_virStreamSend(raw, p.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self),
                                  bytes.count - offset, &err)
            }
            if n == -2 {
                retries += 1
                if retries > 500 { throw LibvirtError(code: .operationFailed, message: "stream stayed full for 5 s",
                                                      operation: "virStreamSend") }
                usleep(10_000)
                continue
            }
            guard n > 0 else { throw LibvirtError(capturing: &err, operation: "virStreamSend") }
            offset += Int(n)
        }
    }

    /// Completes the transfer (flushes and checks for errors on the far side).
    public func finish() throws {
        lock.lock(); defer { lock.unlock() }
        guard !finished else { return }
        finished = true
        var err = virError()
        guard cvm_virStreamFinish(raw, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virStreamFinish")
        }
    }

    /// Abandons the stream.
    public func abort() {
        lock.lock(); defer { lock.unlock() }
        guard !finished else { return }
        finished = true
        _ = virStreamAbort(raw)
    }

    /// Calls `handler` on libvirt's event thread whenever the stream becomes readable or
    /// fails or hangs up. The handler must be quick: it runs on the thread that serves every
    /// libvirt event of the process. Only one handler per stream.
    public func onEvents(_ handler: @escaping @Sendable (StreamEvents) -> Void) throws {
        let box = Unmanaged.passRetained(CallbackBox(handler)).toOpaque()
        let events = Int32(VIR_STREAM_EVENT_READABLE.rawValue | VIR_STREAM_EVENT_ERROR.rawValue
                           | VIR_STREAM_EVENT_HANGUP.rawValue)
        var err = virError()
        let rc = cvm_virStreamEventAddCallback(raw, events, { _, events, opaque in
            guard let opaque else { return }
            Unmanaged<CallbackBox>.fromOpaque(opaque).takeUnretainedValue().handler(StreamEvents(rawValue: events))
        }, box, { opaque in
            guard let opaque else { return }
            Unmanaged<CallbackBox>.fromOpaque(opaque).release()
        }, &err)
        guard rc == 0 else {
            Unmanaged<CallbackBox>.fromOpaque(box).release()
            throw LibvirtError(capturing: &err, operation: "virStreamEventAddCallback")
        }
        lock.lock(); hasCallback = true; lock.unlock()
    }

    /// Stops the event callbacks (safe from inside the callback). A stream that failed or
    /// reached its end stays "ready" for libvirt, which would call the handler again and
    /// again from its event loop; remove it as soon as the stream is done with.
    public func stopEvents() {
        lock.lock(); defer { lock.unlock() }
        guard hasCallback else { return }
        hasCallback = false
        _ = virStreamEventRemoveCallback(raw)
    }

    private final class CallbackBox: Sendable {
        let handler: @Sendable (StreamEvents) -> Void
        init(_ handler: @escaping @Sendable (StreamEvents) -> Void) { self.handler = handler }
    }
}

/// Stream readiness bits delivered by libvirt's event loop.
public struct StreamEvents: OptionSet, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let readable = StreamEvents(rawValue: Int32(VIR_STREAM_EVENT_READABLE.rawValue))
    public static let error = StreamEvents(rawValue: Int32(VIR_STREAM_EVENT_ERROR.rawValue))
    public static let hangup = StreamEvents(rawValue: Int32(VIR_STREAM_EVENT_HANGUP.rawValue))
}
