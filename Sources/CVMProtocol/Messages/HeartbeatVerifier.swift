/// The host's acceptance check for the heartbeats of one CVM. Pure state, no I/O.
///
/// A heartbeat is accepted only when, in this order: the line parses, its MAC matches the
/// CVM's secret, it is an `HB`, its fields are well-formed, its `id` is the CVM's, its
/// boot nonce is not one this CVM has already left behind, and its `seq` is greater than
/// the last accepted `seq` of the same boot. A new boot nonce starts a new sequence (the
/// guest rebooted); the previous nonce is then remembered as retired (the last
/// `retiredBootLimit` of them), so old heartbeats cannot be replayed as a "new boot".
/// A rejected heartbeat never changes the state.
public struct HeartbeatVerifier: Sendable, CustomStringConvertible {
    public enum Rejection: Sendable, Equatable {
        /// The line is not a valid wire message or not a valid heartbeat.
        case malformed(WireError)
        /// The MAC does not match the secret.
        case badMAC
        /// A correctly signed message that is not a heartbeat.
        case notHeartbeat(WireMessage.Kind)
        /// Signed with this CVM's secret but carrying another id.
        case wrongID(String)
        /// `seq` did not increase within the current boot.
        case replay(boot: UInt64, seq: UInt64, lastSeq: UInt64)
        /// The boot nonce belongs to a boot this CVM has already left.
        case retiredBoot(UInt64)
    }

    public enum Verdict: Sendable, Equatable {
        /// `newBoot` is true for the first heartbeat of a boot (first ever, or a reboot).
        case accepted(Heartbeat, newBoot: Bool)
        case rejected(Rejection)
    }

    public static let retiredBootLimit = 16

    public let id: String
    private let secret: [UInt8]
    /// The boot nonce of the last accepted heartbeat.
    public private(set) var currentBoot: UInt64?
    /// The seq of the last accepted heartbeat.
    public private(set) var lastSeq: UInt64 = 0
    public private(set) var retiredBoots: [UInt64] = []

    /// - Parameters:
    ///   - id: the CVM id the heartbeats must carry (compared case-insensitively).
    ///   - secret: the CVM's 32-byte key.
    public init(id: String, secret: [UInt8]) {
        self.id = id.lowercased()
        self.secret = secret
    }

    /// Parses and checks one received line.
    public mutating func check<C: Collection>(line: C) -> Verdict where C.Element == UInt8 {
        do {
            return check(try WireMessage.parse(line))
        } catch let error as WireError {
            return .rejected(.malformed(error))
        } catch {
            return .rejected(.malformed(WireError(.malformedField, "\(error)")))
        }
    }

    /// Checks one parsed message.
    public mutating func check(_ message: WireMessage) -> Verdict {
        guard message.verify(secret: secret) else { return .rejected(.badMAC) }
        guard message.kind == .heartbeat else { return .rejected(.notHeartbeat(message.kind)) }
        let heartbeat: Heartbeat
        do {
            heartbeat = try Heartbeat(message)
        } catch let error as WireError {
            return .rejected(.malformed(error))
        } catch {
            return .rejected(.malformed(WireError(.invalidField, "\(error)")))
        }
        guard heartbeat.id.lowercased() == id else { return .rejected(.wrongID(heartbeat.id)) }

        if heartbeat.boot == currentBoot {
            guard heartbeat.seq > lastSeq else {
                return .rejected(.replay(boot: heartbeat.boot, seq: heartbeat.seq, lastSeq: lastSeq))
            }
            lastSeq = heartbeat.seq
            return .accepted(heartbeat, newBoot: false)
        }
        guard !retiredBoots.contains(heartbeat.boot) else {
            return .rejected(.retiredBoot(heartbeat.boot))
        }
        if let previous = currentBoot {
            retiredBoots.append(previous)
            if retiredBoots.count > HeartbeatVerifier.retiredBootLimit { retiredBoots.removeFirst() }
        }
        currentBoot = heartbeat.boot
        lastSeq = heartbeat.seq
        return .accepted(heartbeat, newBoot: true)
    }

    public var description: String {
        let boot = currentBoot.map { WireMessage.hex64($0) } ?? "none"
        return "HeartbeatVerifier(id: \(id), boot: \(boot), lastSeq: \(lastSeq), secret: <redacted>)"
    }
}
