import CVMProtocol

/// Console wording for rejected commands (never includes message contents or the secret).
enum CommandRejectionText {
    static func describe(_ rejection: CommandGate.Rejection) -> String {
        switch rejection {
        case .malformed(let error): return "malformed (\(error.code.rawValue))"
        case .badMAC: return "bad mac"
        case .notCommand(let kind): return "not a command (\(kind.rawValue))"
        case .wrongID: return "addressed to another CVM"
        case .stale(let seq, let lastSeq): return "stale seq \(seq) <= \(lastSeq)"
        }
    }
}
