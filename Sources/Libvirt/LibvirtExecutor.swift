import Dispatch

/// Runs blocking libvirt calls off the caller's executor (never on a NIO event loop or
/// Swift's cooperative pool), on a dedicated concurrent queue.
public enum LibvirtExecutor {
    private static let queue = DispatchQueue(label: "cvm.libvirt.blocking", attributes: .concurrent)

    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}
