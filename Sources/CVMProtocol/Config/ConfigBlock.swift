/// The per-CVM configuration as it travels on the CVM's own disk: the rendered
/// ``AgentConfig`` text at offset 0 of `vda`, NUL-padded to one 4 KiB block. Keeping it on
/// the CVM's disk (instead of a per-CVM initrd) lets every CVM of an image share one
/// content-addressed kernel and initrd, and the configuration moves with the disk when the
/// CVM migrates. The data area the CVM may use starts at ``dataOffset``.
///
/// The next ``credentialsSize`` bytes (from ``credentialsOffset``) hold the CVM's TLS
/// credentials when it has any: named PEM files (its certificate and key, the orchestrator's
/// CA), as text, NUL-padded (see ``encodeCredentials(_:)``).
public enum ConfigBlock {
    public static let size = 4096
    public static let credentialsOffset = 4096
    public static let credentialsSize = 12_288
    public static let dataOffset = 1 << 20
    /// The first line of the credentials area.
    public static let credentialsHeader = "# CVM credentials, written by the orchestrator. Contains a private key."
    /// Where the agent puts the credentials files in the guest (mode 0600, folder 0700).
    public static let credentialsDirectory = "/run/cvm/tls"
    /// At most this many files, each named by 1-32 of `[a-z0-9.-]`.
    public static let maximumCredentialFiles = 8

    /// The block for `config`. Throws when the rendered text does not fit.
    public static func encode(_ config: AgentConfig) throws -> [UInt8] {
        let text = Array(config.render().utf8)
        guard text.count < size else {
            throw AgentConfigError(.invalidValue, line: nil, key: "peers", "configuration is \(text.count) bytes; at most \(size - 1) fit")
        }
        return text + [UInt8](repeating: 0, count: size - text.count)
    }

    /// The block for `config` followed by the credentials area with `files` (name, PEM text).
    public static func encode(_ config: AgentConfig, credentials files: [(name: String, text: String)]) throws -> [UInt8] {
        try encode(config) + encodeCredentials(files)
    }

    /// The credentials area: the header line, then per file a line `=== NAME` and its text.
    public static func encodeCredentials(_ files: [(name: String, text: String)]) throws -> [UInt8] {
        guard files.count <= maximumCredentialFiles else {
            throw AgentConfigError(.invalidValue, line: nil, key: "credentials", "at most \(maximumCredentialFiles) files")
        }
        var text = credentialsHeader + "\n"
        for file in files {
            guard isCredentialName(file.name), !file.text.contains("\0"), !file.text.contains("\n=== ") else {
                throw AgentConfigError(.invalidValue, line: nil, key: "credentials", "file '\(file.name)' cannot be carried")
            }
            text += "=== \(file.name)\n" + file.text + (file.text.hasSuffix("\n") ? "" : "\n")
        }
        let bytes = Array(text.utf8)
        guard bytes.count < credentialsSize else {
            throw AgentConfigError(.invalidValue, line: nil, key: "credentials", "credentials take \(bytes.count) bytes; at most \(credentialsSize - 1) fit")
        }
        return bytes + [UInt8](repeating: 0, count: credentialsSize - bytes.count)
    }

    /// The files of a credentials area read from the disk (up to the first NUL); empty when it
    /// does not start with the header (a CVM deployed without credentials). Malformed entries
    /// end the list: a hostile or damaged disk yields fewer files, never a crash.
    public static func credentials<C: Collection>(from area: C) -> [(name: String, text: String)] where C.Element == UInt8 {
        let bytes = Array(area.prefix(credentialsSize).prefix { $0 != 0 })
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasPrefix(credentialsHeader + "\n") else { return [] }
        var files: [(name: String, text: String)] = []
        var current: (name: String, lines: [Substring])?
        for line in text.dropFirst(credentialsHeader.count + 1).split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("=== ") {
                if let current { files.append((current.name, current.lines.joined(separator: "\n") + "\n")) }
                let name = String(line.dropFirst(4))
                guard isCredentialName(name), files.count < maximumCredentialFiles else { return files }
                current = (name, [])
            } else if current != nil, !(line.isEmpty && current!.lines.isEmpty) {
                current!.lines.append(line)
            }
        }
        if let current {
            var lines = current.lines
            while lines.last?.isEmpty == true { lines.removeLast() }
            files.append((current.name, lines.joined(separator: "\n") + "\n"))
        }
        return files
    }

    static func isCredentialName(_ name: String) -> Bool {
        (1...32).contains(name.utf8.count) && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2e || $0 == 0x2d }
            && !name.hasPrefix(".")
    }

    /// The configuration text in a block read from the disk: up to the first NUL. Nil when
    /// the block does not start like a rendered configuration (a blank or foreign disk).
    public static func text<C: Collection>(from block: C) -> String? where C.Element == UInt8 {
        let bytes = Array(block.prefix { $0 != 0 })
        let text = String(decoding: bytes, as: UTF8.self)
        return text.hasPrefix(AgentConfig.renderedHeader) ? text : nil
    }
}
