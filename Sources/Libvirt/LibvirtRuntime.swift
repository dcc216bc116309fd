import CLibvirt
import Foundation

/// Process-wide libvirt setup: initialises the library once, silences its stderr printer
/// and runs libvirt's default event loop on a dedicated thread, which lifecycle events
/// and non-blocking streams need.
///
/// The event loop must be registered before the first connection is opened, so every
/// `LibvirtConnection` calls `LibvirtRuntime.ensureStarted()` first. A process that opens
/// `qemu+libssh2://` connections must have initialised libssh2 before (libvirt's transport
/// uses it from libvirt's threads); the orchestrator does so before its first connection.
public enum LibvirtRuntime {
    private static let started: Bool = {
        cvm_silence_libvirt_errors()
        _ = virInitialize()
        _ = virEventRegisterDefaultImpl()
        let thread = Thread {
            while true {
                // Blocks until a file descriptor or timer fires; dispatches callbacks.
                if virEventRunDefaultImpl() < 0 { Thread.sleep(forTimeInterval: 0.01) }
            }
        }
        thread.name = "cvm.libvirt-events"
        thread.start()
        return true
    }()

    /// Idempotent and thread-safe (Swift lazy globals are initialised exactly once).
    public static func ensureStarted() { _ = started }

    /// The version of the libvirt library linked into this process, e.g. "9.0.0".
    public static var libraryVersion: String {
        ensureStarted()
        var version: UInt = 0
        _ = virGetVersion(&version, nil, nil)
        return Self.format(version)
    }

    static func format(_ version: UInt) -> String {
        "\(version / 1_000_000).\((version / 1000) % 1000).\(version % 1000)"
    }
}
