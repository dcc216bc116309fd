/// An IPv4 network in CIDR form (`10.77.0.0/24`), parsed strictly: four decimal octets with
/// no leading zeros, a prefix length 8…30 (a CVM segment needs room for the traffic manager's
/// address and at least one CVM), and no host bits set. Values only; no name lookups.
public struct IPv4Subnet: Sendable, Hashable, CustomStringConvertible {
    /// The network address, host bits zero.
    public let network: UInt32
    public let prefixLength: Int

    public init(network: UInt32, prefixLength: Int) {
        precondition((0...32).contains(prefixLength))
        self.network = network & Self.mask(prefixLength)
        self.prefixLength = prefixLength
    }

    /// Parses `a.b.c.d/n`; `nil` with the reason in `problem` otherwise.
    public static func parse(_ text: String) -> Result<IPv4Subnet, SubnetProblem> {
        guard text.utf8.count <= 18 else { return .failure(.syntax(text)) }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = parseAddress(String(parts[0])),
              let length = Int(parts[1]), String(length) == parts[1] else { return .failure(.syntax(text)) }
        guard (8...30).contains(length) else { return .failure(.prefixLength(text)) }
        guard address & ~mask(length) == 0 else { return .failure(.hostBitsSet(text)) }
        return .success(IPv4Subnet(network: address, prefixLength: length))
    }

    public static func parseAddress(_ text: String) -> UInt32? {
        guard text.utf8.count <= 15 else { return nil }
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard !octet.isEmpty, octet.utf8.count <= 3, octet.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                  octet == "0" || octet.first != "0", let n = UInt32(octet), n <= 255 else { return nil }
            value = value << 8 | n
        }
        return value
    }

    public static func format(_ address: UInt32) -> String {
        "\(address >> 24).\(address >> 16 & 0xff).\(address >> 8 & 0xff).\(address & 0xff)"
    }

    static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : ~UInt32(0) << (32 - length) }

    public var mask: UInt32 { Self.mask(prefixLength) }
    public var broadcast: UInt32 { network | ~mask }
    /// The first host address: the traffic manager's machine's address on the segment.
    public var gateway: UInt32 { network + 1 }
    /// Addresses a CVM may get: every host address but the gateway.
    public var cvmAddresses: ClosedRange<UInt32> { (network + 2)...(broadcast - 1) }

    public func contains(_ address: UInt32) -> Bool { address & mask == network }

    public func overlaps(_ other: IPv4Subnet) -> Bool {
        let shorter = min(prefixLength, other.prefixLength)
        return network & Self.mask(shorter) == other.network & Self.mask(shorter)
    }

    public var description: String { "\(Self.format(network))/\(prefixLength)" }

    /// A locally administered unicast MAC in QEMU's 52:54:00 block, from the address's low
    /// 24 bits: unique within any subnet of /8 or longer, and the same on every host.
    public static func mac(for address: UInt32) -> String {
        let bytes = [0x52, 0x54, 0x00, Int(address >> 16 & 0xff), Int(address >> 8 & 0xff), Int(address & 0xff)]
        return bytes.map { b in
            let hex = String(b, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }
}

public enum SubnetProblem: Error, Sendable, Equatable, CustomStringConvertible {
    case syntax(String)
    case prefixLength(String)
    case hostBitsSet(String)

    public var description: String {
        switch self {
        case .syntax(let text): "'\(text.prefix(40))' is not an IPv4 subnet in CIDR form such as 10.77.0.0/24"
        case .prefixLength(let text): "'\(text)': the prefix length must be 8 to 30 (room for the gateway and CVMs)"
        case .hostBitsSet(let text): "'\(text)' has host bits set; write the network address (e.g. 10.77.0.0/24)"
        }
    }
}
