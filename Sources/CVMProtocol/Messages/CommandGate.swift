/// The guest's acceptance check for commands. Pure state, no I/O.
///
/// A command line is executed only when it parses, its MAC matches, it is a `CMD`, it
/// addresses this CVM's id, and its `seq` is greater than the last executed one. The same
/// `seq` again (the host retrying because an ACK was lost) is acknowledged again without
/// running the command twice. Everything else is rejected and counted in `rejectedCount`.
public struct CommandGate: Sendable, CustomStringConvertible {
    public enum Rejection: Sendable, Equatable {
        case malformed(WireError)
        case badMAC
        case notCommand(WireMessage.Kind)
        case wrongID(String)
        /// `seq` is lower than the last executed command's.
        case stale(seq: UInt64, lastSeq: UInt64)
    }

    public enum Decision: Sendable, Equatable {
        /// Run the command, then acknowledge it.
        case execute(Command)
        /// Already run: acknowledge again, do not run.
        case reacknowledge(Command)
        case reject(Rejection)
    }

    public let id: String
    private let secret: [UInt8]
    /// `seq` of the last executed command; nil before the first.
    public private(set) var lastSeq: UInt64?
    /// Lines rejected so far.
    public private(set) var rejectedCount: UInt64 = 0

    public init(id: String, secret: [UInt8]) {
        self.id = id.lowercased()
        self.secret = secret
    }

    /// Decides what to do with one received line.
    public mutating func admit<C: Collection>(line: C) -> Decision where C.Element == UInt8 {
        let decision = decide(line)
        if case .reject = decision { rejectedCount += 1 }
        if case .execute(let command) = decision { lastSeq = command.seq }
        return decision
    }

    private func decide<C: Collection>(_ line: C) -> Decision where C.Element == UInt8 {
        let message: WireMessage
        do {
            message = try WireMessage.parse(line)
        } catch let error as WireError {
            return .reject(.malformed(error))
        } catch {
            return .reject(.malformed(WireError(.malformedField, "\(error)")))
        }
        guard message.verify(secret: secret) else { return .reject(.badMAC) }
        guard message.kind == .command else { return .reject(.notCommand(message.kind)) }
        let command: Command
        do {
            command = try Command(message)
        } catch let error as WireError {
            return .reject(.malformed(error))
        } catch {
            return .reject(.malformed(WireError(.invalidField, "\(error)")))
        }
        guard command.id.lowercased() == id else { return .reject(.wrongID(command.id)) }
        if let lastSeq {
            if command.seq == lastSeq { return .reacknowledge(command) }
            if command.seq < lastSeq { return .reject(.stale(seq: command.seq, lastSeq: lastSeq)) }
        }
        return .execute(command)
    }

    public var description: String {
        "CommandGate(id: \(id), lastSeq: \(lastSeq.map(String.init) ?? "none"), "
            + "rejected: \(rejectedCount), secret: <redacted>)"
    }
}
