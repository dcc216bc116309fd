import CVMProtocol
import Glibc

/// Brings up the CVM's NIC on the CVM segment with the address the orchestrator leased
/// (no DHCP): the interface whose MAC is the configured one gets the address and prefix and
/// is set up, and so is `lo`. With plain ioctls on an AF_INET socket (no userland in the guest).
enum NetworkSetup {
    // <linux/sockios.h>
    private static let getFlags: UInt = 0x8913
    private static let setFlags: UInt = 0x8914
    private static let setAddress: UInt = 0x8916
    private static let setNetmask: UInt = 0x891C
    private static let interfaceUp: Int16 = 0x1

    /// - Returns: the interface configured, or why not (one line).
    static func configure(_ network: AgentConfig.Network, waitSeconds: Int = 5) -> Result<String, SetupFailure> {
        var name: String?
        // virtio_net probes as its module loads, but give udev-less sysfs a moment.
        for _ in 0..<(waitSeconds * 10) {
            name = interface(withMAC: network.mac)
            if name != nil { break }
            usleep(100_000)
        }
        guard let name else { return .failure(SetupFailure("no interface with MAC \(network.mac)")) }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(SetupFailure("socket: \(Console.errnoText())")) }
        defer { close(fd) }
        _ = up("lo", fd: fd)
        let mask: UInt32 = network.prefixLength == 0 ? 0 : ~UInt32(0) << (32 - network.prefixLength)
        for (request, value, what) in [(setAddress, network.address, "address"), (setNetmask, mask, "netmask")] {
            let result = withRequest(name) { request_ in
                // struct sockaddr_in at offset 16: family, port, address (network order).
                request_.storeBytes(of: UInt16(AF_INET), toByteOffset: 16, as: UInt16.self)
                request_.storeBytes(of: value.bigEndian, toByteOffset: 20, as: UInt32.self)
                return Syscalls.ioctl(fd, request, request_.baseAddress!)
            }
            guard result == 0 else { return .failure(SetupFailure("\(name): setting the \(what) failed: errno \(result)")) }
        }
        let result = up(name, fd: fd)
        guard result == 0 else { return .failure(SetupFailure("\(name): bringing it up failed: errno \(result)")) }
        return .success(name)
    }

    struct SetupFailure: Error { let reason: String; init(_ reason: String) { self.reason = reason } }

    /// The name of the interface whose MAC is `mac` (lower-case), from sysfs.
    static func interface(withMAC mac: String) -> String? {
        FileIO.list("/sys/class/net").first { name in
            let text = FileIO.readText("/sys/class/net/\(name)/address") ?? ""
            return text.split(separator: "\n").first.map { String($0).lowercased() } == mac
        }
    }

    private static func up(_ name: String, fd: Int32) -> Int32 {
        withRequest(name) { request in
            let got = Syscalls.ioctl(fd, getFlags, request.baseAddress!)
            guard got == 0 else { return got }
            let flags = request.load(fromByteOffset: 16, as: Int16.self)
            request.storeBytes(of: flags | interfaceUp, toByteOffset: 16, as: Int16.self)
            return Syscalls.ioctl(fd, setFlags, request.baseAddress!)
        }
    }

    /// A zeroed `struct ifreq` (40 bytes) naming `name` (at most 15 bytes).
    private static func withRequest(_ name: String, _ body: (UnsafeMutableRawBufferPointer) -> Int32) -> Int32 {
        var bytes = [UInt8](repeating: 0, count: 40)
        for (i, byte) in name.utf8.prefix(15).enumerated() { bytes[i] = byte }
        return bytes.withUnsafeMutableBytes(body)
    }
}
